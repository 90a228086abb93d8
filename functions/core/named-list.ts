/**
 * Reads the comma-separated `name:value` lists the local configuration uses for keys and secrets
 * (`API_KEYS=crm:k1,shop:k2`, `WEBHOOK_SIGNING_SECRETS=shop:whsec_…`). The first colon ends the name;
 * an entry without one is named `<fallbackPrefix>-<position>`.
 *
 * @example splitNamedList("crm:k1, k2", "key") // [["crm", "k1"], ["key-2", "k2"]]
 */
export function splitNamedList(text: string, fallbackPrefix: string): [name: string, value: string][] {
  return text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part, index) => {
      const colon = part.indexOf(":");
      return colon > 0 ? [part.slice(0, colon), part.slice(colon + 1)] : [`${fallbackPrefix}-${index + 1}`, part];
    });
}
