import { describe, expect, it } from "vitest";
import { heldPartsInWords, partStateInWords, whenInWords } from "../../functions/core/request-view.js";

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

describe("whenInWords once an early send failed or is being cancelled", () => {
  const failed = { status: "failed", earlySendAt: T, batches: [{ state: "sent", status: "failed", sendNowAt: null }] };

  it("never says it will be or is being sent once PassEntry refused the batch, before or after its time", () => {
    for (const now of [before, after]) {
      const words = whenInWords(failed, now);
      expect(words).toBe(`was to be sent at ${T} (an early send, failed: see the reason below)`);
      expect(words).not.toMatch(/will be sent|being sent now/);
    }
  });

  it("never says it will be sent once a cancel was asked for", () => {
    expect(
      whenInWords(
        {
          status: "submitted",
          cancelRequestedAt: T,
          earlySendAt: T,
          batches: [{ state: "sent", status: "scheduled" }],
        },
        before,
      ),
    ).toBe(`was to be sent at ${T} (an early send, being cancelled)`);
  });

  it("still says when a part PassEntry holds goes out, though another part failed", () => {
    expect(
      whenInWords(
        {
          status: "failed",
          earlySendAt: T,
          batches: [
            { state: "sent", status: "scheduled", sendAt: T },
            { state: "failed", status: null },
          ],
        },
        before,
      ),
    ).toMatch(/^will be sent at /);
  });
});

describe("an early send's part that PassEntry holds (the views' words, the API's values unchanged)", () => {
  it("reads 'scheduled for T' and counts as created at PassEntry, not sent, until send-now or PassEntry sends it", () => {
    for (const status of [null, "validating", "scheduled"]) {
      const part = { state: "sent", status, sendAt: T, sendNowAt: null };
      expect(partStateInWords(part)).toBe(`scheduled for ${T}`);
      expect(heldPartsInWords({ earlySendAt: T, batches: [part] })).toEqual({
        count: 1,
        words: `1 created at PassEntry, goes out at ${T}`,
      });
    }
  });

  it("takes the request's earlySendAt while the part has no sendAt written yet", () => {
    expect(partStateInWords({ state: "sent", status: "validating" }, T)).toBe(`scheduled for ${T}`);
  });

  it("reads as the ledger's state once sent now, sending, finished, failed or cancelled, and for other requests", () => {
    expect(partStateInWords({ state: "sent", status: "scheduled", sendAt: T, sendNowAt: T })).toBe("sent");
    for (const status of ["sending", "successful", "completedWithErrors", "failed", "cancelled"])
      expect(partStateInWords({ state: "sent", status, sendAt: T })).toBe("sent");
    expect(partStateInWords({ state: "sent", status: "scheduled" })).toBe("sent");
    expect(partStateInWords({ state: "claimed", status: null, sendAt: T })).toBe("claimed");
    expect(heldPartsInWords({ scheduledAt: T, batches: [{ state: "sent", status: "scheduled" }] })).toBeUndefined();
  });
});
