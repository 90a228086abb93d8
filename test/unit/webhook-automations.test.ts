/**
 * Automations: automations.json is checked (a typo is refused, not silently dropped), each event gives
 * each matching automation one stable request id, and a delayed send is scheduled no earlier than
 * PassEntry accepts.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  automationBatch,
  automationRequestId,
  eventKey,
  matchingAutomations,
  parseAutomations,
  scheduledAtFor,
  type Automation,
  readEventTime,
} from "../../functions/core/automations.js";
import { MIN_LEAD_MINUTES } from "../../functions/core/passentry-limits.js";
import { RequestId, WalletMessageBatch } from "../../functions/core/schemas.js";

const MINUTE = 60_000;
const NOW = Date.parse("2025-06-02T09:00:00Z");
const automation = (fields: Partial<Automation> & Record<string, unknown> = {}): Automation =>
  parseAutomations({
    automations: [{ id: "welcome", on: "passInstalled", entityId: "ent", message: "Hi %{fullName}", ...fields }],
  })[0]!;

describe("automations.json", () => {
  it("ships valid automations, all disabled until the user names an entity and turns them on", () => {
    const automations = parseAutomations(
      JSON.parse(readFileSync(new URL("../../automations.json", import.meta.url), "utf8")),
    );

    expect(automations.map((a) => [a.id, a.on, a.enabled])).toEqual([
      ["welcome", "passInstalled", false],
      ["thanks-for-visiting", "passScanned", false],
    ]);
  });
});

describe("parseAutomations", () => {
  it("refuses unknown keys (a typo must not silently drop a filter), unknown events and duplicate ids, naming each", () => {
    const attempt = () =>
      parseAutomations({
        automations: [
          { id: "a", on: "passInstalled", entityId: "e", message: "m", passTemplateUUID: "typo" },
          { id: "b", on: "batchCompleted", entityId: "e", message: "m" },
        ],
      });
    const duplicate = { id: "c", on: "passScanned", entityId: "e", message: "m" };

    expect(attempt).toThrow(/passTemplateUUID/);
    expect(attempt).toThrow(/automations\.1\.on/);
    expect(() => parseAutomations({ automations: [duplicate, duplicate] })).toThrow(/id c is used twice/);
  });

  it("refuses ids that could not be part of a request id, blank messages and delays PassEntry cannot schedule", () => {
    expect(() => automation({ id: "has space" })).toThrow(/id must be/);
    expect(() => automation({ id: "x".repeat(41) })).toThrow(/id must be/);
    expect(() => automation({ message: "  " })).toThrow(/message must not be blank/);
    expect(() => automation({ delayMinutes: 0 })).toThrow(/delayMinutes/);
    expect(() => automation({ delayMinutes: 366 * 24 * 60 })).toThrow(/delayMinutes/);
  });

  it("defaults `enabled` to true", () => {
    expect(automation().enabled).toBe(true);
  });
});

describe("automation request ids", () => {
  it("are auto-<automation>-<event id>, valid request ids of at most 100 characters, stable for any event id (property)", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
        fc.string({ minLength: 1, maxLength: 200 }),
        (automationId, eventId) => {
          const id = automationRequestId(automationId, eventId);
          expect(RequestId.safeParse(id).success).toBe(true);
          expect(id).toBe(automationRequestId(automationId, eventId));
          expect(id.startsWith(`auto-${automationId}-`)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keep a UUID event id readable and replace an unusual one by a digest", () => {
    expect(eventKey("d29455c9-afe4-4c73-b946-a5ea0b1667f7")).toBe("d29455c9-afe4-4c73-b946-a5ea0b1667f7");
    expect(eventKey("evt/with spaces")).toMatch(/^h[0-9a-f]{32}$/);
    expect(eventKey("evt/with spaces")).not.toBe(eventKey("evt/with spaces!"));
  });
});

describe("automationBatch", () => {
  const pass = {
    passId: "pass-1",
    passContent: { fullName: "Jane", points: 120, vip: true, address: { city: "London" } },
  };

  it("is a valid PassEntry batch to that one pass, carrying only the variables the message names", () => {
    const { batch, missingVariables } = automationBatch(
      automation({ message: "%{fullName}, you have %{points} points (%{vip})" }),
      pass,
      NOW,
      NOW,
    );

    expect(WalletMessageBatch.safeParse(batch).success).toBe(true);
    expect(batch.recipients).toEqual([
      { passId: "pass-1", variables: { fullName: "Jane", points: "120", vip: "true" } },
    ]);
    expect(missingVariables).toEqual([]);
  });

  it("reports variables neither the pass nor the defaults provide (nested values do not count)", () => {
    const { batch, missingVariables } = automationBatch(
      automation({ message: "Hi %{nickname} from %{address}" }),
      pass,
      NOW,
      NOW,
    );

    expect(missingVariables).toEqual(["nickname", "address"]);
    expect(batch.recipients).toEqual([{ passId: "pass-1" }]);
  });

  it("carries the automation's name and tag to PassEntry", () => {
    const { batch } = automationBatch(automation({ name: "Welcome series", tag: "onboarding" }), pass, NOW, NOW);

    expect(batch).toMatchObject({ name: "Welcome series", tag: "onboarding" });
  });
});

describe("scheduledAtFor", () => {
  it("is absent without a delay: the message goes out as an ordinary request", () => {
    expect(scheduledAtFor(automation(), NOW, NOW)).toBeUndefined();
  });

  it("is event time + delay in whole seconds, but at least 65 minutes from now", () => {
    expect(scheduledAtFor(automation({ delayMinutes: 120 }), NOW - 0.5 * MINUTE + 1, NOW)).toBe("2025-06-02T10:59:31Z");
    expect(scheduledAtFor(automation({ delayMinutes: 1 }), NOW, NOW)).toBe(
      new Date(NOW + MIN_LEAD_MINUTES * MINUTE).toISOString().replace(".000Z", "Z"),
    );
  });

  it("rounds up to roundToMinutes, so events close in time get one scheduledAt and can share a batch", () => {
    const thanks = automation({ delayMinutes: 120, roundToMinutes: 15 });
    const at = (iso: string) => scheduledAtFor(thanks, Date.parse(iso), Date.parse(iso));

    expect(at("2030-01-01T14:00:30Z")).toBe("2030-01-01T16:15:00Z");
    expect(at("2030-01-01T14:14:59Z")).toBe("2030-01-01T16:15:00Z");
    expect(at("2030-01-01T14:15:00Z")).toBe("2030-01-01T16:15:00Z");
    expect(at("2030-01-01T14:15:01Z")).toBe("2030-01-01T16:30:00Z");
  });
});

describe("matchingAutomations", () => {
  it("matches on event type, enabled and template", () => {
    const all = [
      automation({ id: "a" }),
      automation({ id: "b", enabled: false }),
      automation({ id: "c", passTemplateUuid: "t1" }),
      automation({ id: "d", on: "passScanned" }),
    ];

    expect(
      matchingAutomations(all, "passInstalled", { passId: "p", passTemplateUuid: "t2", passContent: {} }).map(
        (a) => a.id,
      ),
    ).toEqual(["a"]);
    expect(
      matchingAutomations(all, "passInstalled", { passId: "p", passTemplateUuid: "t1", passContent: {} }).map(
        (a) => a.id,
      ),
    ).toEqual(["a", "c"]);
    expect(matchingAutomations(all, "passInstalled", undefined).map((a) => a.id)).toEqual(["a"]);
  });
});

describe("readEventTime (the one rule for a PassEntry event's timeStamp)", () => {
  const now = Date.parse("2025-06-02T09:00:00.000Z");

  it("reads an ISO-8601 date-time, and a Unix time in seconds or milliseconds, as a number or as digits", () => {
    expect(readEventTime("2025-06-02T08:30:00Z", now)).toBe(Date.parse("2025-06-02T08:30:00Z"));
    expect(readEventTime("2025-06-02T10:30:00+02:00", now)).toBe(Date.parse("2025-06-02T08:30:00Z"));
    expect(readEventTime(Date.parse("2025-06-02T08:30:00Z") / 1000, now)).toBe(Date.parse("2025-06-02T08:30:00Z"));
    expect(readEventTime(Date.parse("2025-06-02T08:30:00Z"), now)).toBe(Date.parse("2025-06-02T08:30:00Z"));
    expect(readEventTime(String(Date.parse("2025-06-02T08:30:00Z") / 1000), now)).toBe(
      Date.parse("2025-06-02T08:30:00Z"),
    );
  });

  it("counts a time a little ahead of our clock as now, so delays are never stretched by it", () => {
    expect(readEventTime("2025-06-02T11:00:00Z", now)).toBe(now);
  });

  it("finds no time in what is missing, unparsable, of another type, or more than a day ahead", () => {
    for (const value of [
      undefined,
      null,
      "",
      "yesterday",
      "2025-13-45T99:00:00Z",
      "June 2, 2025",
      true,
      {},
      [],
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "2025-06-04T09:00:01Z",
    ]) {
      expect(readEventTime(value, now), JSON.stringify(value) ?? String(value)).toBeUndefined();
    }
  });
});
