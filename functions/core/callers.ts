/**
 * Requests belong to their caller. One deployment serves one business with several callers (a CRM,
 * a shop, PassEntry's own webhooks, promotions, operators): each may read and cancel only its own
 * requests, and its idempotency keys are its own. Operators, whose keys are marked as such, see and
 * cancel everything. This module is the one place those rules live.
 *
 * @example
 *   mayAccess("key:shop", { ...request, caller: "key:crm" })   // false: GET and DELETE answer 404
 *   mayAccess("operator:ops", { ...request, caller: "key:crm" }) // true
 */
import { CALLER_NAME, type CallerId, type CallerKind, type RequestRecord } from "./schemas.js";

/**
 * The caller id for a kind and a name; throws a sentence naming the problem when the name cannot
 * be one (the configuration readers turn it into a start-up error).
 *
 * @example callerId("signer", "crm") // "signer:crm"
 */
export function callerId(kind: CallerKind, name: string): CallerId {
  if (!CALLER_NAME.test(name)) {
    throw new Error(
      `The name ${JSON.stringify(name.slice(0, 100))} cannot name a caller: use 1 to 64 letters, digits, _ . @ or -.`,
    );
  }
  return `${kind}:${name}`;
}

/** Operators see and cancel every request, whoever made it. */
export function isOperator(caller: CallerId): boolean {
  return caller.startsWith("operator:");
}

/**
 * Who owns a stored request. Records written before callers had kinds carry only `apiKeyName`,
 * which held a key's name and a signer's name alike: such a record belongs to the key and to the
 * signer of that name (both could read it before; nobody else can now). A record without either
 * (sent straight to the queue or the bus by another AWS service) belongs to no caller: operators
 * only.
 */
export function ownersOf(record: Pick<RequestRecord, "caller" | "apiKeyName">): CallerId[] {
  if (record.caller !== undefined) return [record.caller];
  if (record.apiKeyName !== undefined && CALLER_NAME.test(record.apiKeyName))
    return [`key:${record.apiKeyName}`, `signer:${record.apiKeyName}`];
  return [];
}

/**
 * The callers an Idempotency-Key stored by an earlier version (one global key space) is filed under
 * now: its owners, and for an automation's request (`auto-<automation id>-<event id>`, which names
 * no caller) every automation its id could have come from, since both parts may contain `-`.
 */
export function legacyKeyOwners(
  record: Pick<RequestRecord, "caller" | "apiKeyName" | "requestId" | "source">,
): CallerId[] {
  const owners = ownersOf(record);
  if (owners.length > 0 || record.source !== "webhook" || !record.requestId.startsWith("auto-")) return owners;
  const rest = record.requestId.slice("auto-".length);
  const candidates: CallerId[] = [];
  for (let dash = rest.indexOf("-"); dash > 0; dash = rest.indexOf("-", dash + 1)) {
    const name = rest.slice(0, dash);
    if (CALLER_NAME.test(name)) candidates.push(`automation:${name}`);
  }
  return candidates;
}

/** Whether `caller` may read or cancel the request: its owner, or an operator. */
export function mayAccess(caller: CallerId, record: Pick<RequestRecord, "caller" | "apiKeyName">): boolean {
  return isOperator(caller) || ownersOf(record).includes(caller);
}

/** The name part of a caller id, e.g. "crm" for "key:crm". */
export function callerName(caller: CallerId): string {
  return caller.slice(caller.indexOf(":") + 1);
}
