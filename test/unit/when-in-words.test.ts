import { describe, expect, it } from "vitest";
import { whenInWords } from "../../functions/core/request-view.js";

const T = "2030-01-01T00:10:00.000Z";
const before = Date.parse(T) - 60_000;
const after = Date.parse(T) + 1_000;

describe("whenInWords (the CLI's and the console's 'when' of a request)", () => {
  it("says an early send will be sent at its time while that time lies ahead, even once the batch is scheduled", () => {
    expect(
      whenInWords({ earlySendAt: T, scheduledAt: T, batches: [{ status: "scheduled", sendNowAt: null }] }, before),
    ).toMatch(/^will be sent at 2030-01-01T00:10:00\.000Z \(an early send/);
  });

  it("says it is due, not sent, once the time has passed but PassEntry has not started sending", () => {
    expect(whenInWords({ earlySendAt: T, batches: [{ status: "scheduled", sendNowAt: null }] }, after)).toBe(
      `due at ${T}, being sent now (an early send)`,
    );
  });

  it("says it was sent once send-now went out or PassEntry is sending", () => {
    expect(
      whenInWords({ earlySendAt: T, batches: [{ status: "scheduled", sendNowAt: "2030-01-01T00:10:00.300Z" }] }, after),
    ).toBe(`sent at 2030-01-01T00:10:00.300Z (an early send for ${T})`);
    expect(whenInWords({ earlySendAt: T, batches: [{ status: "sending", sendNowAt: null }] }, after)).toBe(
      `sent at ${T} (an early send for ${T})`,
    );
  });

  it("never says will be sent of a cancelled request", () => {
    expect(
      whenInWords({ status: "cancelled", earlySendAt: T, batches: [{ status: "cancelled", sendNowAt: null }] }, before),
    ).toBe(`was to be sent at ${T} (an early send, cancelled)`);
  });

  it("keeps the other schedules' words", () => {
    expect(whenInWords({ sendNow: true }, before)).toBe("send now");
    expect(whenInWords({ scheduledAt: T }, before)).toBe(`scheduled for ${T}`);
    expect(whenInWords({}, before)).toBe("PassEntry's default schedule");
  });
});
