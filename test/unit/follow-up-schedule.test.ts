/**
 * Follow-ups back off (2 s doubling, jittered) and never wait longer than SQS can hold a message.
 */
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../../functions/config.js";
import { followUpDelaySeconds, MAX_QUEUE_DELAY_SECONDS } from "../../functions/core/follow-up-schedule.js";

describe("followUpDelaySeconds", () => {
  it("doubles from 2 s per attempt without jitter's help: 2, 4, 8, 16 … and stops at SQS's 900 s", () => {
    const middle = () => 0.5;

    expect([1, 2, 3, 4, 5].map((attempt) => followUpDelaySeconds(attempt, DEFAULTS.followUps, middle))).toEqual([
      2, 4, 8, 16, 32,
    ]);
    expect(followUpDelaySeconds(20, DEFAULTS.followUps, middle)).toBe(900);
    expect(MAX_QUEUE_DELAY_SECONDS).toBe(900);
  });

  it("jitters each delay by up to a quarter either way, and never past the cap", () => {
    expect(followUpDelaySeconds(3, DEFAULTS.followUps, () => 0)).toBe(6);
    expect(followUpDelaySeconds(3, DEFAULTS.followUps, () => 0.999999)).toBeCloseTo(10, 3);
    expect(followUpDelaySeconds(30, DEFAULTS.followUps, () => 0.999999)).toBe(900);
  });

  it("follows the configured first delay and cap, but never allows more than 900 s", () => {
    expect(followUpDelaySeconds(1, { firstDelaySeconds: 0.05, maxDelaySeconds: 0.2 }, () => 0.5)).toBe(0.05);
    expect(followUpDelaySeconds(10, { firstDelaySeconds: 0.05, maxDelaySeconds: 0.2 }, () => 0.5)).toBe(0.2);
    expect(followUpDelaySeconds(30, { ...DEFAULTS.followUps, maxDelaySeconds: 5_000 }, () => 0.999999)).toBe(900);
  });
});
