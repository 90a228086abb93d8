/**
 * Request-body rules for the endpoints the sandbox simulates. Error sentences always name the field,
 * so a 422 tells the caller what to fix.
 */

export const MAX_RECIPIENTS_PER_CALL = 500;

/**
 * A recipient whose any value contains this is refused with a 422 naming it, as PassEntry might
 * refuse an unknown pass: lets tests see what one bad recipient does to a batch it shares.
 */
export const REFUSED_RECIPIENT_MARKER = "[[refuse]]";

export interface CreateBatchInput {
  message: string;
  segments: object[] | null;
  recipients: object[] | null;
  /** As received; null when the caller left it out (the store picks the default). */
  scheduledAt: string | null;
  name: string | null;
  tag: string | null;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: string[] };

// ISO-8601 date-time with an explicit zone: a time without a zone is ambiguous, so PassEntry-bound
// times must carry one.
const ZONED_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isBlank(value: string): boolean {
  return value.trim().length === 0;
}

function checkMessage(value: unknown, field: string, errors: string[]): string {
  if (value === undefined || value === null) errors.push(`${field} is required`);
  else if (typeof value !== "string") errors.push(`${field} must be a string`);
  else if (isBlank(value)) errors.push(`${field} can't be blank`);
  return typeof value === "string" ? value : "";
}

/** Returns the list, or null when absent or empty (an empty list targets nobody, so it counts as absent). */
function checkObjectList(value: unknown, field: string, errors: string[]): object[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every(isPlainObject)) {
    errors.push(`${field} must be an array of objects`);
    return null;
  }
  return value.length > 0 ? value : null;
}

function checkTargeting(segments: object[] | null, recipients: object[] | null, errors: string[]): void {
  if (recipients && recipients.length > MAX_RECIPIENTS_PER_CALL) {
    errors.push(
      `recipients must not contain more than ${MAX_RECIPIENTS_PER_CALL} entries per call (got ${recipients.length})`,
    );
  }
  if (segments && recipients) errors.push("segments and recipients cannot both be given: target one or the other");
  if (!segments && !recipients) errors.push("segments or recipients is required (a non-empty list of one of them)");
}

function checkScheduledAt(value: unknown, nowMs: number, errors: string[]): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") {
    errors.push("scheduledAt must be a string");
    return null;
  }
  const at = Date.parse(value);
  if (!ZONED_DATE_TIME.test(value) || !Number.isFinite(at)) {
    errors.push("scheduledAt must be an ISO-8601 date-time with a time zone (e.g. 2030-03-31T13:16:26Z)");
    return null;
  }
  // Far-future dates are accepted on purpose: PassEntry's own example uses 2030.
  if (at < nowMs) errors.push("scheduledAt must not be in the past");
  return value;
}

function checkOptionalString(value: unknown, field: string, errors: string[]): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") {
    errors.push(`${field} must be a string`);
    return null;
  }
  return isBlank(value) ? null : value;
}

/** Validates `{ batch: {...} }` for POST /api/v1/entities/{id}/messaging/wallet. Unknown keys are ignored. */
export function validateCreateBatch(document: unknown, nowMs: number): Validated<CreateBatchInput> {
  if (!isPlainObject(document) || !isPlainObject(document.batch)) {
    return { ok: false, errors: ["batch is required and must be an object"] };
  }
  const batch = document.batch;
  const errors: string[] = [];
  const message = checkMessage(batch.message, "message", errors);
  const segments = checkObjectList(batch.segments, "segments", errors);
  const recipients = checkObjectList(batch.recipients, "recipients", errors);
  checkTargeting(segments, recipients, errors);
  recipients?.forEach((recipient, i) => {
    if (JSON.stringify(recipient).includes(REFUSED_RECIPIENT_MARKER))
      errors.push(`recipients[${i}] names a pass that does not exist`);
  });
  const scheduledAt = checkScheduledAt(batch.scheduledAt, nowMs, errors);
  const name = checkOptionalString(batch.name, "name", errors);
  const tag = checkOptionalString(batch.tag, "tag", errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { message, segments, recipients, scheduledAt, name, tag } };
}

/** Validates `{ notification: { message } }` for POST /api/v1/passes/{id}/notification. */
export function validateNotification(document: unknown): Validated<{ message: string }> {
  if (!isPlainObject(document) || !isPlainObject(document.notification)) {
    return { ok: false, errors: ["notification is required and must be an object"] };
  }
  const errors: string[] = [];
  const message = checkMessage(document.notification.message, "notification message", errors);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: { message } };
}
