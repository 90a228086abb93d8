/**
 * Hostile input at both public doors, over loopback HTTP against the local stack: tampered and
 * re-serialised bodies, broken signature headers, stale and replayed signatures, wrong content
 * types, absurd nesting and size, invalid UTF-8, and plain fuzz. Each gets a 4xx (never a 5xx),
 * nothing hostile is queued, and the server keeps serving.
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PASSENTRY_EXAMPLE_BODY } from "../support/events.js";
import { startSecuredStack, type SecuredStack } from "./stack-support.js";
import { nowSeconds, passEntryEventBody, passEntrySignature, standardWebhookHeaders } from "./webhook-support.js";

const TRIGGER = "/api/v1/entities/ent-42/messaging/wallet";
const WEBHOOK = "/webhooks/passentry";
const JSON_TYPE = { "content-type": "application/json" };
const EXAMPLE = JSON.stringify(PASSENTRY_EXAMPLE_BODY);
const RUNS = { numRuns: 40 };

let s: SecuredStack;
let queuedBefore: number;
beforeAll(async () => {
  // No workers: whatever is accepted stays visible in the queue for the assertions.
  s = await startSecuredStack({ startWorkers: false });
});
afterAll(async () => {
  await s.stop();
});

const queued = () => s.stack.queue.peek().length;
const signedTrigger = (
  body: string | Buffer,
  id = `msg_${Math.random().toString(36).slice(2)}`,
  timestamp = nowSeconds(),
): Record<string, string> => ({
  ...JSON_TYPE,
  ...standardWebhookHeaders(s.signingSecret, id, timestamp, body),
});
const signedWebhook = (body: string | Buffer, extra: Record<string, string> = {}): Record<string, string> => ({
  ...JSON_TYPE,
  "x-webhook-signature": passEntrySignature(s.passEntryWebhookSecret, body),
  ...extra,
});
const withKey = { ...JSON_TYPE, authorization: "" };

/** Every hostile request must be refused with a 4xx JSON error and queue nothing. */
async function expectRefused(
  method: string,
  path: string,
  body: string | Buffer | undefined,
  headers: Record<string, string>,
  allowed: number[],
) {
  const before = queued();
  const answer = await s.request(method, path, body, headers);
  expect(allowed, `${answer.status} ${answer.text.slice(0, 200)}`).toContain(answer.status);
  expect(answer.status).toBeLessThan(500);
  expect(JSON.parse(answer.text).errors.length).toBeGreaterThan(0);
  expect(queued()).toBe(before);
}

describe("hostile input", () => {
  beforeAll(() => {
    withKey.authorization = `Bearer ${s.apiKey}`;
  });
  afterEach(async () => {
    expect((await fetch(`${s.stack.url}/health`)).status).toBe(200);
  });

  describe("signed trigger requests (Standard Webhooks)", () => {
    beforeAll(() => {
      queuedBefore = queued();
    });

    it("refuses a body changed after signing, at any byte (property)", async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (position, xor) => {
          const bytes = Buffer.from(EXAMPLE);
          const tampered = Buffer.from(bytes);
          tampered[position % tampered.length]! ^= xor;
          // A flipped byte can also break UTF-8 (400) before the signature is compared (401).
          await expectRefused("POST", TRIGGER, tampered, signedTrigger(bytes), [400, 401]);
        }),
        RUNS,
      );
    });

    it("refuses the same JSON re-serialised with other bytes (spacing, key order, escapes)", async () => {
      const value = JSON.parse(EXAMPLE);
      const variants = [
        JSON.stringify(value, null, 2),
        JSON.stringify({
          batch: { scheduledAt: value.batch.scheduledAt, segments: value.batch.segments, message: value.batch.message },
        }),
        EXAMPLE.replace("Hello", "\\u0048ello"),
        `${EXAMPLE}\n`,
        ` ${EXAMPLE}`,
      ];
      for (const variant of variants) await expectRefused("POST", TRIGGER, variant, signedTrigger(EXAMPLE), [401]);
    });

    it("refuses missing, empty and garbage signature headers (property)", async () => {
      const printable = fc.stringMatching(/^[\x21-\x7e]{0,80}$/);
      const maybe = (arb: fc.Arbitrary<string>) => fc.option(arb, { nil: undefined });
      await fc.assert(
        fc.asyncProperty(
          maybe(printable),
          maybe(fc.oneof(printable, fc.integer().map(String))),
          maybe(
            fc.oneof(
              printable,
              printable.map((p) => `v1,${p}`),
            ),
          ),
          async (id, timestamp, signature) => {
            fc.pre(id !== undefined || timestamp !== undefined || signature !== undefined);
            const headers: Record<string, string> = { ...JSON_TYPE };
            if (id !== undefined) headers["webhook-id"] = id;
            if (timestamp !== undefined) headers["webhook-timestamp"] = timestamp;
            if (signature !== undefined) headers["webhook-signature"] = signature;
            await expectRefused("POST", TRIGGER, EXAMPLE, headers, [401]);
          },
        ),
        RUNS,
      );
    });

    it("refuses a captured signature replayed with another body, and never lets a signature stand in for a key", async () => {
      const captured = signedTrigger(EXAMPLE, "msg_captured");
      const other = JSON.stringify({ batch: { ...PASSENTRY_EXAMPLE_BODY.batch, message: "Everyone gets 90% off" } });

      await expectRefused("POST", TRIGGER, other, captured, [401]);
      await expectRefused(
        "POST",
        TRIGGER,
        EXAMPLE,
        { ...JSON_TYPE, authorization: `Bearer ${captured["webhook-signature"]}` },
        [401],
      );
    });

    it("refuses wrong content types, also when the signature over the bytes is valid", async () => {
      for (const contentType of [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/octet-stream",
        "application/jsonp",
      ]) {
        const headers = { ...signedTrigger(EXAMPLE), "content-type": contentType };
        await expectRefused("POST", TRIGGER, EXAMPLE, headers, [415]);
        await expectRefused("POST", TRIGGER, EXAMPLE, { ...withKey, "content-type": contentType }, [415]);
      }
      const { "content-type": _none, ...noContentType } = withKey;
      await expectRefused("POST", TRIGGER, EXAMPLE, noContentType, [415]);
    });

    it("queued nothing for any of the above", () => {
      expect(queued()).toBe(queuedBefore);
    });
  });

  describe("the signature's time window and replays", () => {
    it("accepts timestamps just inside ±5 minutes and refuses those just outside", async () => {
      const before = queued();
      const inside = [nowSeconds() - 285, nowSeconds() + 285];
      for (const [i, t] of inside.entries()) {
        expect((await s.request("POST", TRIGGER, EXAMPLE, signedTrigger(EXAMPLE, `msg_inside_${i}`, t))).status).toBe(
          202,
        );
      }
      for (const [i, t] of [nowSeconds() - 315, nowSeconds() + 315].entries()) {
        await expectRefused("POST", TRIGGER, EXAMPLE, signedTrigger(EXAMPLE, `msg_outside_${i}`, t), [401]);
      }

      expect(queued()).toBe(before + 2);
    });

    it("answers a replayed request (same id, same body) with the first answer and queues nothing more", async () => {
      const before = queued();
      const headers = signedTrigger(EXAMPLE, "msg_replayed");

      const first = await s.request("POST", TRIGGER, EXAMPLE, headers);
      const replays = await Promise.all([1, 2, 3].map(() => s.request("POST", TRIGGER, EXAMPLE, headers)));

      expect(first.status).toBe(202);
      for (const replay of replays) {
        expect(replay.status).toBe(202);
        expect(JSON.parse(replay.text).data.id).toBe(JSON.parse(first.text).data.id);
      }
      expect(queued()).toBe(before + 1);
    });

    it("refuses another body under a replayed id even when validly signed (422)", async () => {
      await s.request("POST", TRIGGER, EXAMPLE, signedTrigger(EXAMPLE, "msg_reused"));
      const other = JSON.stringify({ batch: { ...PASSENTRY_EXAMPLE_BODY.batch, message: "Different" } });

      await expectRefused("POST", TRIGGER, other, signedTrigger(other, "msg_reused"), [422]);
    });
  });

  describe("PassEntry webhooks", () => {
    beforeAll(() => {
      queuedBefore = queued();
    });

    it("refuses a body changed after signing, at any byte (property)", async () => {
      const event = JSON.stringify(passEntryEventBody({ id: "evt-tamper" }));
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (position, xor) => {
          const tampered = Buffer.from(event);
          tampered[position % tampered.length]! ^= xor;
          await expectRefused("POST", WEBHOOK, tampered, signedWebhook(event), [401]);
        }),
        RUNS,
      );
    });

    it("refuses re-serialised JSON and missing, empty or garbage X-Webhook-Signature headers (property)", async () => {
      const value = passEntryEventBody({ id: "evt-garbage" });
      const event = JSON.stringify(value);
      await expectRefused("POST", WEBHOOK, JSON.stringify(value, null, 1), signedWebhook(event), [401]);
      await expectRefused("POST", WEBHOOK, event, JSON_TYPE, [401]);
      await fc.assert(
        fc.asyncProperty(fc.stringMatching(/^[\x20-\x7e]{0,120}$/), async (signature) => {
          await expectRefused("POST", WEBHOOK, event, { ...JSON_TYPE, "x-webhook-signature": signature }, [401]);
        }),
        RUNS,
      );
    });

    it("refuses any signed JSON that is not a PassEntry event with 400 (property)", async () => {
      await fc.assert(
        fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), async (value) => {
          const text = JSON.stringify(value) ?? "null";
          fc.pre(!(typeof value === "object" && value !== null && "data" in value));
          await expectRefused("POST", WEBHOOK, text, signedWebhook(text), [400]);
        }),
        RUNS,
      );
    });

    it("queued nothing for any of the above", () => {
      expect(queued()).toBe(queuedBefore);
    });
  });

  describe("inputs that cannot fan out or smuggle", () => {
    const batchWith = (extra: Record<string, unknown>) => JSON.stringify({ batch: { message: "Hello", ...extra } });

    it("refuses recipients that name no pass: empty objects, variables only, blank or non-text ids (422)", async () => {
      const bodies = [
        batchWith({ recipients: Array.from({ length: 1_000 }, () => ({})) }),
        batchWith({ recipients: [{ passId: "p-1" }, {}] }),
        batchWith({ recipients: [{ variables: { name: "Ada" } }] }),
        batchWith({ recipients: [{ passId: "   " }] }),
        batchWith({ recipients: [{ passId: null, variables: {} }] }),
        batchWith({ recipients: [{ passId: { nested: "p-1" } }] }),
        // Invisible text is blank text: a zero-width space, a byte-order mark, a word joiner.
        batchWith({ recipients: [{ passId: "\u200b" }] }),
        batchWith({ recipients: [{ extId: "\ufeff \u2060" }] }),
        // Blank on screen though not spaces: Hangul fillers, a braille blank, marks with nothing to mark.
        ...["\u3164", "\u115f\u180e", "\u1160", "\uffa0", "\u034f", "\ufe0f", "\u2800"].map((id) =>
          batchWith({ recipients: [{ passId: id }] }),
        ),
      ];
      for (const body of bodies) await expectRefused("POST", TRIGGER, body, withKey, [422]);
    });

    it("still accepts recipients named by pass id or external id, with or without variables", async () => {
      const before = queued();
      const body = batchWith({
        recipients: [{ passId: "p-1" }, { extId: "member-1001", variables: { name: "Ada" } }, { passId: 1002 }],
      });

      expect((await s.request("POST", TRIGGER, body, withKey)).status).toBe(202);
      expect(queued()).toBe(before + 1);
    });

    it("refuses segments that name no group: empty, unknown keys alone, a blank or invisible groupTag (422 saying what a segment needs)", async () => {
      // PassEntry documents groupTag as a segment's filter; a segment without one could reach every pass of the entity.
      const segments = [
        [{}],
        [{ foo: "bar" }],
        [{ passTemplateUuid: "0b6d8f6e-6c8a-4a43-9d1e-7f2f3b1a2c4d" }],
        [{ groupTag: "   " }],
        [{ groupTag: "\u200b" }],
        [{ groupTag: "\u3164" }],
        [{ groupTag: 7 }],
        [{ groupTag: "vip" }, {}],
      ];
      for (const segment of segments) {
        const before = queued();
        const answer = await s.request("POST", TRIGGER, batchWith({ segments: segment }), withKey);
        expect(answer.status, answer.text).toBe(422);
        expect(answer.text).toMatch(/groupTag/);
        expect(queued()).toBe(before);
      }
    });

    it("refuses text that is not valid Unicode (a lone surrogate) anywhere in the batch (422), which would break every JSON reader of the list", async () => {
      const bodies = [
        batchWith({ segments: [{ groupTag: "vip" }], message: "Hi \ud800" }),
        batchWith({ segments: [{ groupTag: "vip" }], name: "promo \udfff" }),
        batchWith({ recipients: [{ passId: "p-1", variables: { name: "\udbff" } }] }),
        batchWith({ segments: [{ groupTag: "vip", "\ud800": "x" }] }),
      ];
      for (const body of bodies) {
        const before = queued();
        const answer = await s.request("POST", TRIGGER, body, withKey);
        expect(answer.status, answer.text).toBe(422);
        expect(answer.text).toMatch(/not valid Unicode/);
        expect(queued()).toBe(before);
      }
      // A pair is a character, escaped or not.
      const before = queued();
      expect(
        (
          await s.request(
            "POST",
            TRIGGER,
            batchWith({ segments: [{ groupTag: "vip" }], message: "Hi \ud83d\ude00 😀" }),
            withKey,
          )
        ).status,
      ).toBe(202);
      expect(queued()).toBe(before + 1);
    });

    it("says how to write a scheduledAt it refuses: with seconds and a zone", async () => {
      for (const scheduledAt of ["2030-03-31T13:16Z", "2030-03-31T13:16:26+0100", "2030-03-31 13:16:26"]) {
        const answer = await s.request(
          "POST",
          TRIGGER,
          batchWith({ segments: [{ groupTag: "vip" }], scheduledAt }),
          withKey,
        );
        expect(answer.status, answer.text).toBe(422);
        expect(JSON.parse(answer.text).errors.join(" ")).toMatch(
          /scheduledAt: must be an ISO-8601 date-time with seconds and a zone, e\.g\. 2030-03-31T13:16:26Z/,
        );
      }
    });

    it("refuses top-level batch keys outside the contract (they could widen who is messaged), naming each (422)", async () => {
      const before = queued();
      for (const extra of [
        { entityId: "ent-other" },
        { passTemplateUuid: "0b6d8f6e-6c8a-4a43-9d1e-7f2f3b1a2c4d" },
        { audience: "everyone", priority: 1 },
      ]) {
        const answer = await s.request(
          "POST",
          TRIGGER,
          batchWith({ segments: [{ groupTag: "a" }], ...extra }),
          withKey,
        );
        expect(answer.status, answer.text).toBe(422);
        for (const key of Object.keys(extra)) expect(answer.text).toContain(`batch.${key}`);
      }
      expect(queued()).toBe(before);
    });

    it("lets unknown keys inside a segment through: they can only narrow an audience", async () => {
      const before = queued();
      const body = batchWith({
        segments: [{ groupTag: "vip", passTemplateUuid: "0b6d8f6e-6c8a-4a43-9d1e-7f2f3b1a2c4d" }],
      });

      expect((await s.request("POST", TRIGGER, body, withKey)).status).toBe(202);
      expect(JSON.parse(s.stack.queue.peek().at(-1)!.body).batch.segments[0].passTemplateUuid).toBe(
        "0b6d8f6e-6c8a-4a43-9d1e-7f2f3b1a2c4d",
      );
      expect(queued()).toBe(before + 1);
    });

    it("refuses entity ids holding control, line-breaking or bidi characters (400), which would reach terminals and PassEntry", async () => {
      const hostile = [
        "ent%00x",
        "ent%0D%0AX-Injected:%201",
        "ent%0A",
        "ent%1B%5B31mred",
        "ent%7F",
        "ent%C2%85",
        "ent%E2%80%AEgnp.exe",
        "ent%E2%81%A6x",
        "ent%E2%80%8Fx",
        "ent%E2%80%A8x",
        "ent%EF%BB%BFx",
        "%E3%85%A4",
        "%E2%A0%80",
      ];
      for (const entity of hostile) {
        await expectRefused("POST", `/api/v1/entities/${entity}/messaging/wallet`, EXAMPLE, withKey, [400]);
      }
    });
  });

  describe("PassEntry webhook event times", () => {
    /** A validly signed passInstalled event (the welcome automation acts on it) with this timeStamp; `undefined` leaves it out. */
    const deliver = (timeStamp: unknown) => {
      const event = passEntryEventBody();
      const attributes = (event.data as { attributes: Record<string, unknown> }).attributes;
      if (timeStamp === undefined) delete attributes.timeStamp;
      else attributes.timeStamp = timeStamp;
      const text = JSON.stringify(event);
      return s.request("POST", WEBHOOK, text, signedWebhook(text));
    };

    it("acknowledges and ignores an event whose age cannot be read: missing, null, unparsable, not a time, far in the future", async () => {
      const before = queued();
      const unreadable = [
        undefined,
        null,
        "",
        "yesterday",
        "2025-13-45T99:00:00Z",
        true,
        { at: "now" },
        new Date(Date.now() + 3 * 86_400_000).toISOString(),
      ];

      const answers = [];
      for (const timeStamp of unreadable) answers.push(await deliver(timeStamp));

      for (const answer of answers) {
        expect(answer.status, answer.text).toBe(202);
        expect(JSON.parse(answer.text).data.attributes.ignored).toBe("no event time");
      }
      expect(queued()).toBe(before);
    });

    it("reads a numeric timeStamp as Unix seconds or milliseconds, acting on a recent one and ignoring an old one (never 400)", async () => {
      const before = queued();
      const recentSeconds = await deliver(Math.floor(Date.now() / 1000));
      const recentMilliseconds = await deliver(Date.now());
      const eightDaysOld = await deliver(Math.floor(Date.now() / 1000) - 8 * 86_400);

      expect([recentSeconds.status, recentMilliseconds.status, eightDaysOld.status]).toEqual([202, 202, 202]);
      expect(JSON.parse(eightDaysOld.text).data.attributes.ignored).toBe("too old");
      expect(queued()).toBe(before + 2);
    });
  });

  describe("shapes and sizes that break parsers", () => {
    // Nested inside a segment, where keys beyond the contract pass through.
    const deep = (levels: number) =>
      `{"batch":{"message":"x","segments":[{"groupTag":"a","x":${"[".repeat(levels)}${"]".repeat(levels)}}]}}`;
    const invalidUtf8 = [
      Buffer.from([0x7b, 0x22, 0x62, 0x22, 0x3a, 0xff, 0x7d]),
      Buffer.concat([
        Buffer.from('{"batch":{"message":"'),
        Buffer.from([0xc0, 0xaf]),
        Buffer.from('","segments":[{"groupTag":"a"}]}}'),
      ]),
      Buffer.concat([
        Buffer.from('{"batch":{"message":"'),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from('","segments":[{"groupTag":"a"}]}}'),
      ]),
      Buffer.from([0xfe, 0xff, 0x00, 0x7b, 0x00, 0x7d]),
    ];

    it("refuses JSON nested 100,000 levels deep with 400 at both doors, signed or keyed", async () => {
      const body = deep(100_000);
      expect(Buffer.byteLength(body)).toBeLessThan(256 * 1024);

      await expectRefused("POST", TRIGGER, body, withKey, [400]);
      await expectRefused("POST", TRIGGER, body, signedTrigger(body), [400]);
      await expectRefused("POST", TRIGGER, "[".repeat(200_000), withKey, [400]);
      await expectRefused("POST", WEBHOOK, body, signedWebhook(body), [400]);
    });

    it("still accepts reasonable nesting, and brackets inside strings do not count as nesting", async () => {
      const before = queued();
      const bracketsInText = JSON.stringify({
        batch: { message: `say "${"[".repeat(1000)}{{`, segments: [{ groupTag: "a" }] },
      });

      expect((await s.request("POST", TRIGGER, deep(40), withKey)).status).toBe(202);
      expect((await s.request("POST", TRIGGER, bracketsInText, withKey)).status).toBe(202);
      expect(queued()).toBe(before + 2);
    });

    it("refuses bodies over 256 KB with 413, before authenticating or parsing", async () => {
      const huge = `{"batch":{"message":"${"x".repeat(300 * 1024)}","segments":[{"groupTag":"a"}]}}`;
      await expectRefused("POST", TRIGGER, huge, withKey, [413]);
      await expectRefused("POST", TRIGGER, huge, JSON_TYPE, [413]);
      await expectRefused("POST", WEBHOOK, huge, signedWebhook(huge), [413]);
      await expectRefused("POST", TRIGGER, Buffer.alloc(2 * 1024 * 1024, 0x5b), withKey, [413]);
    });

    it("refuses invalid UTF-8 with 400, keyed or signed", async () => {
      for (const body of invalidUtf8) {
        await expectRefused("POST", TRIGGER, body, withKey, [400]);
        await expectRefused("POST", TRIGGER, body, signedTrigger(body), [400]);
        await expectRefused("POST", WEBHOOK, body, signedWebhook(body), [400]);
      }
    });

    it("answers arbitrary bytes, strings and JSON from a valid key with a 202 or a 4xx, never a 5xx (property)", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
            fc.string({ maxLength: 300 }),
            fc.jsonValue({ maxDepth: 8 }).map((v) => JSON.stringify(v) ?? "null"),
            fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ batch: v })),
            fc
              .record({
                message: fc.string(),
                segments: fc.array(fc.jsonValue({ maxDepth: 3 })),
                scheduledAt: fc.string(),
              })
              .map((b) => JSON.stringify({ batch: b })),
          ),
          async (body) => {
            const before = queued();
            const answer = await s.request("POST", TRIGGER, body, withKey);
            expect(answer.status).toBeLessThan(500);
            if (answer.status !== 202) expect(queued()).toBe(before);
          },
        ),
        { numRuns: 80 },
      );
    });

    it("survives prototype-polluting keys without polluting anything", async () => {
      const bodies = [
        '{"batch":{"message":"x","segments":[{"groupTag":"a"}],"__proto__":{"polluted":true}}}',
        '{"__proto__":{"polluted":true},"batch":{"message":"x","segments":[{"groupTag":"a","constructor":{"prototype":{"polluted":true}}}]}}',
      ];
      for (const body of bodies) {
        const answer = await s.request("POST", TRIGGER, body, withKey);
        expect(answer.status).toBeLessThan(500);
        const event = JSON.stringify({ ...passEntryEventBody(), __proto__: { polluted: true } });
        expect((await s.request("POST", WEBHOOK, event, signedWebhook(event))).status).toBeLessThan(500);
      }

      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });
});
