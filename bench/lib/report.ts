/** Markdown tables for the terminal (and for docs/performance.md, which pastes them as they are). */

export function table(header: string[], rows: (string | number | undefined)[][], align: ("l" | "r")[] = []): string {
  const cells = rows.map((row) => row.map((c) => (c === undefined ? "–" : String(c))));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const pad = (text: string, i: number) =>
    (align[i] ?? "l") === "r" ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (row: string[]) => `| ${row.map(pad).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => ((align[i] ?? "l") === "r" ? `${"-".repeat(w + 1)}:` : `:${"-".repeat(w + 1)}`)).join("|")}|`;
  return [line(header), rule, ...cells.map(line)].join("\n");
}

export const kb = (bytes: number | undefined) => (bytes === undefined ? undefined : (bytes / 1024).toFixed(1));
export const fixed = (value: number | undefined, digits = 1) =>
  value === undefined || Number.isNaN(value) ? undefined : value.toFixed(digits);
export const ratio = (value: number | undefined) => (value === undefined ? undefined : `${value.toFixed(2)}×`);
export const verdict = (met: boolean | undefined) => (met === undefined ? "–" : met ? "met" : "MISSED");
