/**
 * Protects the error hierarchy's two promises: every error the service throws is one of core/errors.ts's
 * classes and says its own HTTP status and retryability (no other module decides them), and a caller
 * sees detail only below 500, while anything else is a plain 500 that a queue keeps for another try.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  ForbiddenError,
  IdempotencyConflictError,
  InvalidAutomationsError,
  InvalidPromotionsError,
  isRetryable,
  LedgerConflictError,
  NotFoundError,
  PassEntryError,
  RetryLaterError,
  ServiceUnavailableError,
  toHttpError,
  UnauthorizedError,
  ValidationError,
  type WalletMessagingError,
} from "../../functions/core/errors.js";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

describe("the error hierarchy", () => {
  it("gives each class its HTTP status and retryability", () => {
    const cases: [WalletMessagingError, number, boolean][] = [
      [new ValidationError("bad", [], 422), 422, false],
      [new UnauthorizedError("who?"), 401, false],
      [new ForbiddenError("operators only"), 403, false],
      [new NotFoundError("no such request"), 404, false],
      [new IdempotencyConflictError("same key, other body"), 422, false],
      [new ServiceUnavailableError("queue down"), 503, true],
      [new LedgerConflictError("lost a race"), 409, true],
      [new RetryLaterError("not yet", 5), 503, true],
      [new PassEntryError("429", "retryable", { outcomeKnown: true }), 502, true],
      [new PassEntryError("422", "permanent", { outcomeKnown: true }), 502, false],
      [new ConfigError("PORT is not a number"), 500, true],
      [new InvalidPromotionsError(["cron is not valid"]), 500, false],
      [new InvalidAutomationsError("The automations are not valid."), 500, false],
    ];
    for (const [error, status, retryable] of cases) {
      expect([error.name, error.httpStatus, error.retryable, isRetryable(error)]).toEqual([
        error.constructor.name,
        status,
        retryable,
        retryable,
      ]);
    }
  });

  it("answers callers with detail only below 500, and keeps unknown errors for another try", () => {
    expect(toHttpError(new NotFoundError('No request has the id "x".'))).toEqual({
      statusCode: 404,
      body: { errors: ['No request has the id "x".'] },
    });
    expect(toHttpError(new ConfigError("secret id abc is wrong"))).toEqual({
      statusCode: 500,
      body: { errors: ["Internal error."] },
    });
    expect(toHttpError(new Error("boom"))).toEqual({ statusCode: 500, body: { errors: ["Internal error."] } });
    expect(isRetryable(new Error("boom"))).toBe(true);
  });

  // The CLI (local/cli/) is a client of the API: its usage errors become exit codes, never HTTP answers.
  it("is the only place the service declares an error class", () => {
    const outside = [
      ...sourceFiles("functions"),
      ...sourceFiles("local").filter((p) => !p.startsWith(join("local", "cli"))),
    ]
      .filter((path) => path !== join("functions", "core", "errors.ts"))
      .filter((path) => /class \w+ extends \w*Error\b/.test(readFileSync(path, "utf8")));
    expect(outside).toEqual([]);
  });
});
