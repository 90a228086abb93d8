/**
 * A message handed back to the queue survives a 6-hour PassEntry outage before it is dead-lettered,
 * and one that can never succeed is dead-lettered within about half a day.
 */
import { describe, expect, it } from "vitest";
import {
  MAX_RECEIVES,
  MAX_RETRY_SECONDS,
  retryBackoffSeconds,
  shortestTimeToDeadLetterSeconds,
  SURVIVED_OUTAGE_SECONDS,
} from "../../functions/core/retry-policy.js";
import { queues } from "../../infra/manifest.js";

describe("the retry policy of a message handed back to the queue", () => {
  it("waits 2, 4, 8 … seconds, never more than 15 minutes", () => {
    expect([1, 2, 3, 4].map((n) => retryBackoffSeconds(n, () => 1))).toEqual([2, 4, 8, 16]);
    expect(retryBackoffSeconds(40, () => 1)).toBe(MAX_RETRY_SECONDS);
    expect(retryBackoffSeconds(1, () => 0)).toBeGreaterThanOrEqual(1);
  });

  it("keeps a message through a 6-hour PassEntry outage even when every wait is at its shortest", () => {
    expect(shortestTimeToDeadLetterSeconds(MAX_RECEIVES)).toBeGreaterThanOrEqual(SURVIVED_OUTAGE_SECONDS);
  });

  it("still dead-letters a message that can never succeed within a day", () => {
    expect(shortestTimeToDeadLetterSeconds(MAX_RECEIVES) / MAX_RECEIVES).toBeLessThan(MAX_RETRY_SECONDS);
    expect((MAX_RECEIVES - 1) * MAX_RETRY_SECONDS).toBeLessThan(24 * 60 * 60);
  });

  it("is the receive budget of the AWS queue's redrive policy too", () => {
    expect(queues.messages.deadLetter.retry).toBe(MAX_RECEIVES);
  });
});
