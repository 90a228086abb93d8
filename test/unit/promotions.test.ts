/**
 * Promotions as data: the committed promotions.json is valid (so a bad edit fails `npm test`),
 * bad promotions are refused with sentences naming the promotion and the field, and occurrences
 * fall at the right instants in the promotion's own zone, DST weeks included.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  checkPromotionsFile,
  compactUtc,
  localIso,
  occurrencesBetween,
  Promotion,
  type PromotionInput,
} from "../../functions/core/promotions.js";

const COMMITTED_FILE = new URL("../../promotions.json", import.meta.url);

/** A valid promotion, as a marketer would write it; tests change one field at a time. */
function promotion(
  overrides: Partial<Record<keyof PromotionInput, unknown>> & Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: "friday-happy-hour",
    name: "Friday happy hour",
    enabled: true,
    cron: "0 17 * * 5",
    timeZone: "Europe/London",
    entityId: "my-entity",
    message: "Happy hour starts now!",
    audience: { segments: [{ groupTag: "happy-hour" }] },
    ...overrides,
  };
}

const problemsOf = (...promotions: unknown[]) => {
  const checked = checkPromotionsFile({ promotions });
  return checked.ok ? [] : checked.problems;
};

/** A daily promotion in `timeZone` at `cron`, parsed (defaults filled in). */
const daily = (cron: string, timeZone: string) => Promotion.parse(promotion({ id: "daily", cron, timeZone }));

/** Occurrences in [from, to) as UTC ISO strings. */
const occurrencesIso = (p: Promotion, from: string, to: string) =>
  occurrencesBetween(p, Date.parse(from), Date.parse(to)).map((o) =>
    new Date(o.at).toISOString().replace(".000Z", "Z"),
  );

describe("promotions.json (committed)", () => {
  it("is valid, so CI refuses a commit that breaks it, and ships every sample disabled so a first deploy sends nothing", () => {
    // Prepare
    const document = JSON.parse(readFileSync(COMMITTED_FILE, "utf8"));

    // Act
    const checked = checkPromotionsFile(document);

    // Assess
    expect(checked.ok ? [] : checked.problems).toEqual([]);
    expect(checked.ok && checked.promotions.length > 0 && checked.promotions.every((p) => !p.enabled)).toBe(true);
  });
});

describe("promotion schema", () => {
  it("accepts a complete promotion and fills in the default lead time of 120 minutes", () => {
    const checked = checkPromotionsFile({
      promotions: [promotion({ tag: "happy-hour", startDate: "2026-01-01", endDate: "2026-12-31" })],
    });

    expect(checked.ok).toBe(true);
    expect(checked.ok && checked.promotions[0]).toMatchObject({
      id: "friday-happy-hour",
      leadTimeMinutes: 120,
      enabled: true,
    });
  });

  it("accepts recipients instead of segments", () => {
    expect(problemsOf(promotion({ audience: { recipients: [{ passId: "p-1" }, { passId: "p-2" }] } }))).toEqual([]);
  });

  it.each([
    [
      "an invalid cron expression",
      { cron: "0 25 * * 5" },
      'promotion "friday-happy-hour": cron "0 25 * * 5" is not a valid cron expression (Invalid value for hour: 25)',
    ],
    [
      "a cron without five fields",
      { cron: "@daily" },
      'promotion "friday-happy-hour": cron "@daily" is not a valid cron expression: it must have exactly 5 fields',
    ],
    [
      "a cron that never occurs",
      { cron: "0 9 31 2 *" },
      'promotion "friday-happy-hour": cron "0 9 31 2 *" never occurs',
    ],
    [
      "a cron firing more than once an hour",
      { cron: "* 17 * * 5" },
      'promotion "friday-happy-hour": cron "* 17 * * 5" occurs more than once an hour (at 17:00 and 17:01)',
    ],
    [
      "an unknown time zone",
      { timeZone: "Europe/Londn" },
      'promotion "friday-happy-hour": timeZone "Europe/Londn" is not a known IANA time zone',
    ],
    ["a blank message", { message: "   " }, 'promotion "friday-happy-hour": message must not be blank'],
    ["a missing message", { message: undefined }, 'promotion "friday-happy-hour": message is required'],
    [
      "an empty segment list",
      { audience: { segments: [] } },
      'promotion "friday-happy-hour": audience.segments must not be empty',
    ],
    [
      "an empty audience",
      { audience: {} },
      'promotion "friday-happy-hour": audience must name segments or recipients, not both and not neither',
    ],
    [
      "both segments and recipients",
      { audience: { segments: [{ groupTag: "a" }], recipients: [{ passId: "p" }] } },
      'promotion "friday-happy-hour": audience must name segments or recipients',
    ],
    [
      "too many recipients",
      { audience: { recipients: Array.from({ length: 501 }, (_, i) => ({ passId: `p-${i}` })) } },
      'promotion "friday-happy-hour": audience.recipients must hold at most 500 recipients',
    ],
    [
      "a lead time under 65 minutes",
      { leadTimeMinutes: 60 },
      'promotion "friday-happy-hour": leadTimeMinutes must be at least 65',
    ],
    ["an id that is not a slug", { id: "Friday Happy Hour" }, 'promotion "Friday Happy Hour": id must be a slug'],
    ["a misspelt field", { cronn: "0 17 * * 5" }, 'promotion "friday-happy-hour": unknown field "cronn"'],
    ["a missing enabled flag", { enabled: undefined }, 'promotion "friday-happy-hour": enabled must be true or false'],
    [
      "a date that is not YYYY-MM-DD",
      { startDate: "03/07/2026" },
      'promotion "friday-happy-hour": startDate must be a date written YYYY-MM-DD',
    ],
    [
      "an end before the start",
      { startDate: "2026-07-01", endDate: "2026-06-01" },
      'promotion "friday-happy-hour": endDate 2026-06-01 is before startDate 2026-07-01',
    ],
    [
      "dates with no occurrence between them",
      { startDate: "2026-07-04", endDate: "2026-07-09" },
      'promotion "friday-happy-hour": cron "0 17 * * 5" never occurs between startDate and endDate',
    ],
    [
      "a skip that is not an occurrence (17:00 UTC is 18:00 in London in July)",
      { skip: ["2026-07-03T17:00:00Z"] },
      'promotion "friday-happy-hour": skip "2026-07-03T17:00:00Z" is not an occurrence of cron "0 17 * * 5" in Europe/London (the next one is 2026-07-10T17:00:00+01:00)',
    ],
  ])("refuses %s, naming the promotion and the field", (_, overrides, expected) => {
    // Act
    const problems = problemsOf(promotion(overrides));

    // Assess
    expect(
      problems.some((p) => p.startsWith(expected)),
      `${expected}\nnot in\n${problems.join("\n")}`,
    ).toBe(true);
  });

  it("refuses two promotions with the same id, naming both entries", () => {
    expect(problemsOf(promotion(), promotion({ cron: "0 18 * * 5" }))).toEqual([
      'promotion "friday-happy-hour": id is used by more than one promotion (entries 1 and 2)',
    ]);
  });

  it("lists every problem of every promotion at once, naming each promotion (by position when it has no id)", () => {
    const problems = problemsOf(
      promotion({ cron: "0 25 * * 5" }),
      promotion({ id: "brunch", timeZone: "Mars/Olympus" }),
      promotion({ id: undefined }),
    );

    expect(problems).toEqual([
      'promotion "friday-happy-hour": cron "0 25 * * 5" is not a valid cron expression (Invalid value for hour: 25)',
      'promotion "brunch": timeZone "Mars/Olympus" is not a known IANA time zone (e.g. Europe/London, America/New_York)',
      "promotion #3: id must be a string",
    ]);
  });

  it("accepts a skip written as the local time with its offset", () => {
    expect(problemsOf(promotion({ skip: ["2026-07-03T17:00:00+01:00", "2026-12-25T17:00:00Z"] }))).toEqual([]);
  });

  it("refuses a file that is not an object holding a promotions list", () => {
    expect(checkPromotionsFile([])).toEqual({
      ok: false,
      problems: ['the file must be a JSON object with a "promotions" list'],
    });
    expect(checkPromotionsFile({ promotion: [] })).toMatchObject({
      ok: false,
      problems: expect.arrayContaining(['unknown top-level field "promotion"']),
    });
  });
});

describe("occurrences in the promotion's zone", () => {
  it("puts Friday 17:00 London at 16:00 UTC in summer and 17:00 UTC in winter", () => {
    const p = Promotion.parse(promotion());

    expect(occurrencesIso(p, "2026-07-01T00:00:00Z", "2026-07-11T00:00:00Z")).toEqual([
      "2026-07-03T16:00:00Z",
      "2026-07-10T16:00:00Z",
    ]);
    expect(occurrencesIso(p, "2026-12-01T00:00:00Z", "2026-12-12T00:00:00Z")).toEqual([
      "2026-12-04T17:00:00Z",
      "2026-12-11T17:00:00Z",
    ]);
  });

  it("keeps to startDate and endDate as local days, both inclusive", () => {
    const p = Promotion.parse(promotion({ startDate: "2026-07-10", endDate: "2026-07-24" }));

    expect(occurrencesIso(p, "2026-07-01T00:00:00Z", "2026-08-01T00:00:00Z")).toEqual([
      "2026-07-10T16:00:00Z",
      "2026-07-17T16:00:00Z",
      "2026-07-24T16:00:00Z",
    ]);
  });

  it("marks listed occurrences as skipped and keeps the others", () => {
    const p = Promotion.parse(promotion({ skip: ["2026-07-10T17:00:00+01:00"] }));

    const found = occurrencesBetween(p, Date.parse("2026-07-01T00:00:00Z"), Date.parse("2026-07-18T00:00:00Z"));

    expect(found.map((o) => o.skipped)).toEqual([false, true, false]);
  });

  describe("Europe/London, spring forward (Sunday 29 March 2026, 01:00 GMT → 02:00 BST)", () => {
    it("sends a daily 17:00 once a day, at 17:00 GMT before and 17:00 BST (16:00 UTC) from the change", () => {
      expect(
        occurrencesIso(daily("0 17 * * *", "Europe/London"), "2026-03-26T00:00:00Z", "2026-04-02T00:00:00Z"),
      ).toEqual([
        "2026-03-26T17:00:00Z",
        "2026-03-27T17:00:00Z",
        "2026-03-28T17:00:00Z",
        "2026-03-29T16:00:00Z",
        "2026-03-30T16:00:00Z",
        "2026-03-31T16:00:00Z",
        "2026-04-01T16:00:00Z",
      ]);
    });

    it("sends a daily 01:30 once on the change day too: 01:30 does not exist, so croner sends at 02:00 BST, the first time after the gap", () => {
      expect(
        occurrencesIso(daily("30 1 * * *", "Europe/London"), "2026-03-26T00:00:00Z", "2026-04-02T00:00:00Z"),
      ).toEqual([
        "2026-03-26T01:30:00Z",
        "2026-03-27T01:30:00Z",
        "2026-03-28T01:30:00Z",
        "2026-03-29T01:00:00Z", // 02:00 BST
        "2026-03-30T00:30:00Z",
        "2026-03-31T00:30:00Z",
        "2026-04-01T00:30:00Z",
      ]);
      expect(localIso(Date.parse("2026-03-29T01:00:00Z"), "Europe/London")).toBe("2026-03-29T02:00:00+01:00");
    });
  });

  describe("Europe/London, fall back (Sunday 25 October 2026, 02:00 BST → 01:00 GMT)", () => {
    it("sends a daily 17:00 once a day, moving from 16:00 UTC to 17:00 UTC", () => {
      expect(
        occurrencesIso(daily("0 17 * * *", "Europe/London"), "2026-10-22T00:00:00Z", "2026-10-29T00:00:00Z"),
      ).toEqual([
        "2026-10-22T16:00:00Z",
        "2026-10-23T16:00:00Z",
        "2026-10-24T16:00:00Z",
        "2026-10-25T17:00:00Z",
        "2026-10-26T17:00:00Z",
        "2026-10-27T17:00:00Z",
        "2026-10-28T17:00:00Z",
      ]);
    });

    it("sends a daily 01:30 once, not twice, on the day 01:30 happens twice: at the first, 01:30 BST", () => {
      expect(
        occurrencesIso(daily("30 1 * * *", "Europe/London"), "2026-10-22T00:00:00Z", "2026-10-29T00:00:00Z"),
      ).toEqual([
        "2026-10-22T00:30:00Z",
        "2026-10-23T00:30:00Z",
        "2026-10-24T00:30:00Z",
        "2026-10-25T00:30:00Z", // 01:30 BST; 01:30 GMT (01:30 UTC) is not sent
        "2026-10-26T01:30:00Z",
        "2026-10-27T01:30:00Z",
        "2026-10-28T01:30:00Z",
      ]);
    });
  });

  describe("America/New_York, spring forward (Sunday 8 March 2026, 02:00 EST → 03:00 EDT)", () => {
    it("sends a daily 17:00 once a day, moving from 22:00 UTC to 21:00 UTC", () => {
      expect(
        occurrencesIso(daily("0 17 * * *", "America/New_York"), "2026-03-05T00:00:00Z", "2026-03-12T00:00:00Z"),
      ).toEqual([
        "2026-03-05T22:00:00Z",
        "2026-03-06T22:00:00Z",
        "2026-03-07T22:00:00Z",
        "2026-03-08T21:00:00Z",
        "2026-03-09T21:00:00Z",
        "2026-03-10T21:00:00Z",
        "2026-03-11T21:00:00Z",
      ]);
    });

    it("sends a daily 01:30 as usual (New York's gap is 02:00-03:00), and a daily 02:30 at 03:00 EDT on the change day", () => {
      expect(
        occurrencesIso(daily("30 1 * * *", "America/New_York"), "2026-03-06T00:00:00Z", "2026-03-10T00:00:00Z"),
      ).toEqual([
        "2026-03-06T06:30:00Z",
        "2026-03-07T06:30:00Z",
        "2026-03-08T06:30:00Z", // 01:30 EST, before the change
        "2026-03-09T05:30:00Z",
      ]);
      expect(
        occurrencesIso(daily("30 2 * * *", "America/New_York"), "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z"),
      ).toEqual([
        "2026-03-07T07:30:00Z",
        "2026-03-08T07:00:00Z", // 03:00 EDT
        "2026-03-09T06:30:00Z",
      ]);
    });
  });

  describe("America/New_York, fall back (Sunday 1 November 2026, 02:00 EDT → 01:00 EST)", () => {
    it("sends a daily 17:00 once a day, moving from 21:00 UTC to 22:00 UTC", () => {
      expect(
        occurrencesIso(daily("0 17 * * *", "America/New_York"), "2026-10-29T00:00:00Z", "2026-11-05T00:00:00Z"),
      ).toEqual([
        "2026-10-29T21:00:00Z",
        "2026-10-30T21:00:00Z",
        "2026-10-31T21:00:00Z",
        "2026-11-01T22:00:00Z",
        "2026-11-02T22:00:00Z",
        "2026-11-03T22:00:00Z",
        "2026-11-04T22:00:00Z",
      ]);
    });

    it("sends a daily 01:30 once, not twice, on the day 01:30 happens twice: at the first, 01:30 EDT", () => {
      expect(
        occurrencesIso(daily("30 1 * * *", "America/New_York"), "2026-10-30T00:00:00Z", "2026-11-03T00:00:00Z"),
      ).toEqual([
        "2026-10-30T05:30:00Z",
        "2026-10-31T05:30:00Z",
        "2026-11-01T05:30:00Z", // 01:30 EDT; 01:30 EST (06:30 UTC) is not sent
        "2026-11-02T06:30:00Z",
      ]);
    });
  });
});

describe("time formats", () => {
  it("writes an instant in the promotion's zone with its offset, and compactly in UTC for request ids", () => {
    const at = Date.parse("2030-12-31T17:00:00Z");

    expect(localIso(at, "Europe/London")).toBe("2030-12-31T17:00:00+00:00");
    expect(localIso(at, "America/New_York")).toBe("2030-12-31T12:00:00-05:00");
    expect(localIso(at, "Asia/Kolkata")).toBe("2030-12-31T22:30:00+05:30");
    expect(compactUtc(at)).toBe("20301231T170000Z");
  });
});
