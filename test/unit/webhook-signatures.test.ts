/**
 * Signed requests: Standard Webhooks and PassEntry signatures prove their signer over the exact body,
 * within the 5-minute window, with either secret during a rotation, and cannot be replayed under
 * another id or time.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { UnauthorizedError, ValidationError } from "../../functions/core/errors.js";
import {
  parsePassEntryWebhookSecrets,
  parseSigningSecrets,
  signPassEntryWebhook,
  standardWebhookHeaders as readHeaders,
  verifyPassEntrySignature,
  verifyStandardWebhook,
  WEBHOOK_TOLERANCE_SECONDS,
} from "../../functions/core/webhook-signatures.js";
import {
  CRM_SIGNER,
  CRM_SIGNING_SECRET,
  nowSeconds,
  PASSENTRY_WEBHOOK_SECRET,
  PASSENTRY_WEBHOOK_SECRET_NEXT,
  passEntrySignature,
  SHOP_SIGNER,
  SHOP_SIGNING_SECRET,
  SIGNING_SECRETS,
  STANDARD_WEBHOOKS_VECTOR,
  standardWebhookSignature,
} from "../security/webhook-support.js";

afterEach(() => {
  vi.useRealTimers();
});

const signed = (secret: string, id: string, timestamp: number, body: string | Buffer) => ({
  id,
  timestamp: String(timestamp),
  signature: standardWebhookSignature(secret, id, timestamp, body),
});

describe("verifyStandardWebhook", () => {
  it("accepts the Standard Webhooks published test vector", () => {
    // Prepare: the vector was signed at 1614265330; the package checks the timestamp against the system clock.
    vi.useFakeTimers({ now: STANDARD_WEBHOOKS_VECTOR.timestamp * 1000, toFake: ["Date"] });
    const v = STANDARD_WEBHOOKS_VECTOR;

    // Act
    const signer = verifyStandardWebhook(
      Buffer.from(v.payload),
      { id: v.id, timestamp: String(v.timestamp), signature: v.signature },
      parseSigningSecrets(`vector:${v.secret}`),
    );

    // Assess
    expect(signer).toBe("signer:vector");
    expect(standardWebhookSignature(v.secret, v.id, v.timestamp, v.payload)).toBe(v.signature);
  });

  it("names the secret that signed, among several senders", () => {
    const body = Buffer.from('{"batch":{}}');
    const secrets = parseSigningSecrets(SIGNING_SECRETS);

    expect(verifyStandardWebhook(body, signed(SHOP_SIGNING_SECRET, "msg_1", nowSeconds(), body), secrets)).toBe(
      `signer:${SHOP_SIGNER}`,
    );
    expect(verifyStandardWebhook(body, signed(CRM_SIGNING_SECRET, "msg_1", nowSeconds(), body), secrets)).toBe(
      `signer:${CRM_SIGNER}`,
    );
  });

  it("accepts any one valid signature among several space-separated ones (the sender rotating its secret)", () => {
    const body = Buffer.from('{"a":1}');
    const t = nowSeconds();
    const headers = signed(SHOP_SIGNING_SECRET, "msg_2", t, body);
    const old = standardWebhookSignature(
      `whsec_${Buffer.from("an-old-secret-no-longer-ok").toString("base64")}`,
      "msg_2",
      t,
      body,
    );

    expect(
      verifyStandardWebhook(
        body,
        { ...headers, signature: `${old} ${headers.signature}` },
        parseSigningSecrets(SIGNING_SECRETS),
      ),
    ).toBe(`signer:${SHOP_SIGNER}`);
    expect(
      verifyStandardWebhook(
        body,
        { ...headers, signature: `v2,ignored ${headers.signature}` },
        parseSigningSecrets(SIGNING_SECRETS),
      ),
    ).toBe(`signer:${SHOP_SIGNER}`);
  });

  it("accepts both entries of one sender during our own rotation (old and new secret under two names)", () => {
    const body = Buffer.from("{}");
    const secrets = parseSigningSecrets(`shop-old:${CRM_SIGNING_SECRET},shop:${SHOP_SIGNING_SECRET}`);

    expect(verifyStandardWebhook(body, signed(CRM_SIGNING_SECRET, "m", nowSeconds(), body), secrets)).toBe(
      "signer:shop-old",
    );
    expect(verifyStandardWebhook(body, signed(SHOP_SIGNING_SECRET, "m", nowSeconds(), body), secrets)).toBe(
      "signer:shop",
    );
  });

  it("proves one caller with either of two secrets under one name, so a rotation keeps the signer's requests", () => {
    const body = Buffer.from("{}");
    const list = parseSigningSecrets(`shop:${CRM_SIGNING_SECRET},shop:${SHOP_SIGNING_SECRET}`);
    const json = parseSigningSecrets(JSON.stringify({ shop: [CRM_SIGNING_SECRET, SHOP_SIGNING_SECRET] }));

    for (const secrets of [list, json]) {
      expect(verifyStandardWebhook(body, signed(CRM_SIGNING_SECRET, "m", nowSeconds(), body), secrets)).toBe(
        "signer:shop",
      );
      expect(verifyStandardWebhook(body, signed(SHOP_SIGNING_SECRET, "m", nowSeconds(), body), secrets)).toBe(
        "signer:shop",
      );
    }
  });

  it("accepts timestamps just inside the 5-minute window on either side and refuses those just outside", () => {
    const body = Buffer.from("{}");
    const secrets = parseSigningSecrets(SIGNING_SECRETS);
    const at = (offset: number) => () =>
      verifyStandardWebhook(body, signed(SHOP_SIGNING_SECRET, "m", nowSeconds() + offset, body), secrets);
    // A few seconds of margin: the package reads the clock again while verifying.
    const inside = WEBHOOK_TOLERANCE_SECONDS - 5;
    const outside = WEBHOOK_TOLERANCE_SECONDS + 5;

    expect(at(-inside)()).toBe(`signer:${SHOP_SIGNER}`);
    expect(at(inside)()).toBe(`signer:${SHOP_SIGNER}`);
    expect(at(-outside)).toThrow(/more than 5 minutes away from our clock/);
    expect(at(outside)).toThrow(/more than 5 minutes away from our clock/);
  });

  it("refuses a body changed after signing, even by one byte or by re-serialising the same JSON", () => {
    const original = JSON.stringify({ batch: { message: "Hi", segments: [{ groupTag: "vip" }] } });
    const headers = signed(SHOP_SIGNING_SECRET, "m", nowSeconds(), original);
    const secrets = parseSigningSecrets(SIGNING_SECRETS);

    expect(() => verifyStandardWebhook(Buffer.from(original.replace("Hi", "Hj")), headers, secrets)).toThrow(
      "The webhook signature is not valid.",
    );
    expect(() =>
      verifyStandardWebhook(Buffer.from(JSON.stringify(JSON.parse(original), null, 2)), headers, secrets),
    ).toThrow(UnauthorizedError);
    expect(() => verifyStandardWebhook(Buffer.from(`${original}\n`), headers, secrets)).toThrow(UnauthorizedError);
  });

  it("refuses a signature replayed under another webhook-id or timestamp", () => {
    const body = Buffer.from("{}");
    const t = nowSeconds();
    const headers = signed(SHOP_SIGNING_SECRET, "msg_a", t, body);
    const secrets = parseSigningSecrets(SIGNING_SECRETS);

    expect(() => verifyStandardWebhook(body, { ...headers, id: "msg_b" }, secrets)).toThrow(UnauthorizedError);
    expect(() => verifyStandardWebhook(body, { ...headers, timestamp: String(t + 1) }, secrets)).toThrow(
      UnauthorizedError,
    );
  });

  it("refuses missing, empty and garbage headers with a 401 that says what is wrong", () => {
    const body = Buffer.from("{}");
    const good = signed(SHOP_SIGNING_SECRET, "m", nowSeconds(), body);
    const secrets = parseSigningSecrets(SIGNING_SECRETS);
    const attempts = [
      { ...good, id: undefined },
      { ...good, timestamp: "" },
      { ...good, signature: undefined },
      { ...good, timestamp: "12:00" },
      { ...good, timestamp: "1e9" },
      { ...good, signature: "v1," },
      { ...good, signature: "v1,not base64 at all" },
      { ...good, signature: good.signature.replace("v1,", "v0,") },
    ];

    for (const headers of attempts)
      expect(() => verifyStandardWebhook(body, headers, secrets)).toThrow(UnauthorizedError);
    expect(() => verifyStandardWebhook(body, { ...good, id: undefined }, secrets)).toThrow(
      /webhook-id, webhook-timestamp and webhook-signature/,
    );
  });

  it("refuses every signature when no signing secret is configured", () => {
    const body = Buffer.from("{}");

    expect(() =>
      verifyStandardWebhook(body, signed(SHOP_SIGNING_SECRET, "m", nowSeconds(), body), parseSigningSecrets("")),
    ).toThrow(UnauthorizedError);
  });

  it("verifies the exact bytes: a body that is not valid UTF-8 is refused rather than decoded lossily", () => {
    const invalid = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0xff, 0x7d]);
    const replaced = Buffer.from(invalid.toString("utf8"));
    const secrets = parseSigningSecrets(SIGNING_SECRETS);

    // The signer signed the lossy text; what arrived are other bytes that decode to it.
    expect(() =>
      verifyStandardWebhook(invalid, signed(SHOP_SIGNING_SECRET, "m", nowSeconds(), replaced), secrets),
    ).toThrow(ValidationError);
  });

  it("keeps a byte-order mark as part of what is verified", () => {
    const body = '{"a":1}';
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]);
    const secrets = parseSigningSecrets(SIGNING_SECRETS);

    expect(() => verifyStandardWebhook(withBom, signed(SHOP_SIGNING_SECRET, "m", nowSeconds(), body), secrets)).toThrow(
      UnauthorizedError,
    );
    expect(verifyStandardWebhook(withBom, signed(SHOP_SIGNING_SECRET, "m", nowSeconds(), withBom), secrets)).toBe(
      `signer:${SHOP_SIGNER}`,
    );
  });

  it("accepts what it signs and refuses any other body, for arbitrary bodies and ids (property)", () => {
    const secrets = parseSigningSecrets(SIGNING_SECRETS);
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 200 }),
        fc.string({ unit: "grapheme", maxLength: 200 }),
        fc.stringMatching(/^[\x21-\x7e]{1,64}$/),
        (body, other, id) => {
          const headers = signed(SHOP_SIGNING_SECRET, id, nowSeconds(), body);
          expect(verifyStandardWebhook(Buffer.from(body), headers, secrets)).toBe(`signer:${SHOP_SIGNER}`);
          if (other !== body)
            expect(() => verifyStandardWebhook(Buffer.from(other), headers, secrets)).toThrow(UnauthorizedError);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("standardWebhookHeaders", () => {
  const from = (headers: Record<string, string>) => readHeaders((name) => headers[name]);

  it("is undefined when a request carries none of the three headers (it then uses an API key)", () => {
    expect(from({ authorization: "Bearer k" })).toBeUndefined();
  });

  it("reports a partial set, so a broken signature is never mistaken for an API-key call", () => {
    expect(from({ "webhook-id": "msg_1" })).toEqual({ id: "msg_1", timestamp: undefined, signature: undefined });
  });
});

describe("parseSigningSecrets", () => {
  it("reads a JSON object, a comma list and a bare secret (named signer-1)", () => {
    const callers = (raw: string) => parseSigningSecrets(raw).map((s) => s.caller);

    expect(callers(JSON.stringify({ shop: SHOP_SIGNING_SECRET }))).toEqual(["signer:shop"]);
    expect(callers(` shop:${SHOP_SIGNING_SECRET} , crm:${CRM_SIGNING_SECRET} `)).toEqual(["signer:shop", "signer:crm"]);
    expect(callers(SHOP_SIGNING_SECRET)).toEqual(["signer:signer-1"]);
  });

  it("refuses malformed or short secrets, naming the entry and never the value", () => {
    for (const raw of ["shop:whsec_!!!not-base64!!!", "shop:whsec_c2hvcnQ=", "shop:", '{"shop": 7}']) {
      expect(() => parseSigningSecrets(raw)).toThrow(/"shop"/);
    }
    expect(() => parseSigningSecrets("shop:whsec_!!!not-base64!!!")).not.toThrow(/not-base64/);
  });

  it("refuses invalid JSON without quoting it", () => {
    const attempt = () => parseSigningSecrets(`{"shop": ${SHOP_SIGNING_SECRET}}`);

    expect(attempt).toThrow("The webhook signing secrets are not valid JSON.");
    expect(attempt).not.toThrow(SHOP_SIGNING_SECRET);
  });
});

describe("verifyPassEntrySignature", () => {
  const body = Buffer.from('{"data":{"id":"evt-1"}}');
  const secrets = [PASSENTRY_WEBHOOK_SECRET];

  it("accepts the HMAC-SHA256 of the body in hex, base64 or base64url, with or without a sha256= prefix", () => {
    for (const signature of [
      passEntrySignature(PASSENTRY_WEBHOOK_SECRET, body, "hex"),
      passEntrySignature(PASSENTRY_WEBHOOK_SECRET, body, "hex").toUpperCase(),
      passEntrySignature(PASSENTRY_WEBHOOK_SECRET, body, "base64"),
      passEntrySignature(PASSENTRY_WEBHOOK_SECRET, body, "base64url"),
      `sha256=${passEntrySignature(PASSENTRY_WEBHOOK_SECRET, body, "hex")}`,
      ` ${signPassEntryWebhook(body, PASSENTRY_WEBHOOK_SECRET)} `,
    ]) {
      expect(() => verifyPassEntrySignature(body, signature, secrets), signature).not.toThrow();
    }
  });

  it("accepts either of two secrets while PassEntry's secret is being rotated", () => {
    const both = parsePassEntryWebhookSecrets(`${PASSENTRY_WEBHOOK_SECRET},${PASSENTRY_WEBHOOK_SECRET_NEXT}`);

    expect(() =>
      verifyPassEntrySignature(body, passEntrySignature(PASSENTRY_WEBHOOK_SECRET, body), both),
    ).not.toThrow();
    expect(() =>
      verifyPassEntrySignature(body, passEntrySignature(PASSENTRY_WEBHOOK_SECRET_NEXT, body), both),
    ).not.toThrow();
  });

  it("refuses a missing, empty, garbage, truncated or foreign signature", () => {
    const good = passEntrySignature(PASSENTRY_WEBHOOK_SECRET, body);
    for (const signature of [
      undefined,
      "",
      "   ",
      "garbage",
      good.slice(0, 63),
      `${good}00`,
      passEntrySignature("another-secret", body),
      passEntrySignature(PASSENTRY_WEBHOOK_SECRET, Buffer.from("{}")),
    ]) {
      expect(() => verifyPassEntrySignature(body, signature, secrets), String(signature)).toThrow(UnauthorizedError);
    }
  });

  it("refuses everything when no secret is configured", () => {
    expect(() =>
      verifyPassEntrySignature(
        body,
        passEntrySignature(PASSENTRY_WEBHOOK_SECRET, body),
        parsePassEntryWebhookSecrets(""),
      ),
    ).toThrow(UnauthorizedError);
  });
});

describe("parsePassEntryWebhookSecrets", () => {
  it("reads a JSON array (Secrets Manager) or a comma list (PASSENTRY_WEBHOOK_SECRETS), dropping blanks", () => {
    expect(parsePassEntryWebhookSecrets('["s1", " s2 ", ""]')).toEqual(["s1", "s2"]);
    expect(parsePassEntryWebhookSecrets(" s1 ,, s2 ")).toEqual(["s1", "s2"]);
  });

  it("refuses JSON that is not an array of strings, without quoting it", () => {
    expect(() => parsePassEntryWebhookSecrets('["s1", 2]')).toThrow("JSON array of strings");
    expect(() => parsePassEntryWebhookSecrets("[secret-value")).toThrow(
      "The PassEntry webhook secrets are not valid JSON.",
    );
    expect(() => parsePassEntryWebhookSecrets("[secret-value")).not.toThrow(/secret-value/);
  });
});
