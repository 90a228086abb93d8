/**
 * Every error class the service throws, each with its HTTP status and whether a queue consumer
 * should try again (and, where it has one, when), and two mappers: to an HTTP answer (detail only
 * below 500) and to "retry or not" for the queue. Callers test `instanceof`, never a property's
 * presence. Messages are sentences and never carry secrets.
 */

export abstract class WalletMessagingError extends Error {
  abstract readonly httpStatus: number;
  /** Whether a queue consumer should keep the message and try again later. */
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something we refuse; `details` lists each problem as a sentence. */
export class ValidationError extends WalletMessagingError {
  readonly httpStatus: number = 400;
  readonly retryable = false;
  constructor(
    message: string,
    readonly details: string[] = [],
    status = 400,
  ) {
    super(message);
    this.httpStatus = status;
  }
}

export class UnauthorizedError extends WalletMessagingError {
  readonly httpStatus = 401;
  readonly retryable = false;
}

/** A valid caller asking for what only an operator may do. */
export class ForbiddenError extends WalletMessagingError {
  readonly httpStatus = 403;
  readonly retryable = false;
}

export class NotFoundError extends WalletMessagingError {
  readonly httpStatus = 404;
  readonly retryable = false;
}

/** Same Idempotency-Key, different body. */
export class IdempotencyConflictError extends WalletMessagingError {
  readonly httpStatus = 422;
  readonly retryable = false;
}

/** Something of ours (queue, store) is briefly unavailable: the caller may retry. */
export class ServiceUnavailableError extends WalletMessagingError {
  readonly httpStatus = 503;
  readonly retryable = true;
}

/** A ledger write kept losing races with other writers. Retrying later is safe. */
export class LedgerConflictError extends WalletMessagingError {
  readonly httpStatus = 409;
  readonly retryable = true;
}

/**
 * Keep the queue message for a later attempt: nothing is wrong with it, it is just not its time
 * (a busy claim, a rate limit, a settle window, too little time left in this invocation).
 * `delaySeconds`, when known, is when to try again.
 */
export class RetryLaterError extends WalletMessagingError {
  readonly httpStatus = 503;
  readonly retryable = true;
  constructor(
    message: string,
    readonly delaySeconds?: number,
  ) {
    super(message);
  }
}

export type PassEntryFailureKind = "retryable" | "authentication" | "permanent";

/**
 * A PassEntry call that did not succeed. `outcomeKnown` is false when the request may have reached
 * PassEntry and taken effect (timeout, dropped connection, 5xx): those must be reconciled before any
 * second POST, never blindly retried.
 */
export class PassEntryError extends WalletMessagingError {
  readonly httpStatus = 502;
  constructor(
    message: string,
    readonly kind: PassEntryFailureKind,
    readonly details: {
      status?: number;
      retryAfterSeconds?: number;
      outcomeKnown: boolean;
      errors?: string[];
      /** Set when our circuit breaker refused the call: PassEntry was not contacted. */
      circuitOpen?: boolean;
      /** Set when the call was held back too long (`mayStillSend` said no) and never sent. */
      lateStart?: boolean;
    },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get retryable(): boolean {
    return this.kind !== "permanent";
  }
}

/**
 * The configuration (environment, or a file read at start) is not valid: start-up stops with this
 * sentence. A 500 if it ever reached a caller (their request was fine); a queued message is kept,
 * since a corrected deploy can still send it.
 */
export class ConfigError extends WalletMessagingError {
  readonly httpStatus = 500;
  readonly retryable = true;
}

/** A promotions file that breaks a rule; `problems` holds one sentence per problem. Fixed by a deploy, so not retried. */
export class InvalidPromotionsError extends WalletMessagingError {
  readonly httpStatus = 500;
  readonly retryable = false;
  constructor(readonly problems: string[]) {
    super(`The promotions are not valid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** An automations file that breaks a rule. Fixed by a deploy, so not retried. */
export class InvalidAutomationsError extends WalletMessagingError {
  readonly httpStatus = 500;
  readonly retryable = false;
}

export interface HttpErrorAnswer {
  statusCode: number;
  body: { errors: string[] };
}

/** Maps any thrown value to the caller's answer: our own errors explain, anything else is a plain 500. */
export function toHttpError(error: unknown): HttpErrorAnswer {
  if (error instanceof WalletMessagingError && error.httpStatus < 500) {
    const details = error instanceof ValidationError && error.details.length > 0 ? error.details : [error.message];
    return { statusCode: error.httpStatus, body: { errors: details } };
  }
  if (error instanceof ServiceUnavailableError) {
    return {
      statusCode: 503,
      body: { errors: ["The service is briefly unavailable; retry with the same Idempotency-Key."] },
    };
  }
  return { statusCode: 500, body: { errors: ["Internal error."] } };
}

/** Whether a failed queue message should be kept for another attempt. Unknown errors are kept: losing is worse. */
export function isRetryable(error: unknown): boolean {
  return error instanceof WalletMessagingError ? error.retryable : true;
}
