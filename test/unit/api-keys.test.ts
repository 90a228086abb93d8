/**
 * API keys: every form API_KEYS and the secret take is read as meant (named, hashed, shared by a
 * caller, operators), a bad name is refused without showing the key, and a key authenticates exactly
 * its caller.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { authenticate, parseApiKeys } from "../../functions/core/api-keys.js";
import { UnauthorizedError } from "../../functions/core/errors.js";

const sha256 = (key: string) => createHash("sha256").update(key).digest("hex");
const bearer = (key: string) => `Bearer ${key}`;
const callers = (raw: string) => parseApiKeys(raw).map((k) => k.caller);

describe("parseApiKeys", () => {
  it("reads named keys from a JSON object, as the Secrets Manager secret holds them", () => {
    const keys = parseApiKeys('{"crm":"crm-key-1","shop":"shop-key-2"}');

    expect(keys.map((k) => k.caller)).toEqual(["key:crm", "key:shop"]);
    expect(authenticate(bearer("shop-key-2"), keys)).toBe("key:shop");
  });

  it("reads `name:key` pairs from a comma list and names a bare key key-N, as API_KEYS locally", () => {
    const keys = parseApiKeys(" crm:crm-key-1 , anonymous-key ");

    expect(keys.map((k) => k.caller)).toEqual(["key:crm", "key:key-2"]);
    expect(authenticate(bearer("anonymous-key"), keys)).toBe("key:key-2");
  });

  it("accepts a key given as its SHA-256 in the comma list (`name:sha256:<hex>`)", () => {
    const keys = parseApiKeys(`crm:sha256:${sha256("crm-key-1")},shop:shop-key-2`);

    expect(authenticate(bearer("crm-key-1"), keys)).toBe("key:crm");
    expect(authenticate(bearer("shop-key-2"), keys)).toBe("key:shop");
  });

  it('accepts a key given as its SHA-256 in JSON, as {"sha256": "<hex>"} or "sha256:<hex>", in either case of hex', () => {
    const keys = parseApiKeys(
      JSON.stringify({ crm: { sha256: sha256("crm-key-1") }, shop: `sha256:${sha256("shop-key-2").toUpperCase()}` }),
    );

    expect(authenticate(bearer("crm-key-1"), keys)).toBe("key:crm");
    expect(authenticate(bearer("shop-key-2"), keys)).toBe("key:shop");
  });

  it("lets several keys share one caller, so rotating a key keeps the caller's requests (comma list and JSON)", () => {
    const list = parseApiKeys("crm:crm-old,crm:crm-new,shop:shop-1");
    const json = parseApiKeys(JSON.stringify({ crm: ["crm-old", { sha256: sha256("crm-new") }] }));

    for (const keys of [list, json]) {
      expect(authenticate(bearer("crm-old"), keys)).toBe("key:crm");
      expect(authenticate(bearer("crm-new"), keys)).toBe("key:crm");
    }
  });

  it('marks operator keys: `operator:<name>:<key>` in the comma list, {"operator": true, "keys": [...]} in JSON', () => {
    expect(callers(`crm:k1,operator:ops:k2,operator:ops2:sha256:${sha256("k3")}`)).toEqual([
      "key:crm",
      "operator:ops",
      "operator:ops2",
    ]);
    expect(
      callers(
        JSON.stringify({ ops: { operator: true, keys: ["k2", { sha256: sha256("k3") }] }, crm: { keys: ["k1"] } }),
      ),
    ).toEqual(["operator:ops", "operator:ops", "key:crm"]);
    expect(authenticate(bearer("k3"), parseApiKeys(`operator:ops2:sha256:${sha256("k3")}`))).toBe("operator:ops2");
  });

  it("keeps earlier lists meaning what they meant: a key named operator stays a key", () => {
    expect(callers("operator:plain-key")).toEqual(["key:operator"]);
    expect(callers(`operator:sha256:${sha256("k")}`)).toEqual(["key:operator"]);
    expect(authenticate(bearer("k"), parseApiKeys(`operator:sha256:${sha256("k")}`))).toBe("key:operator");
  });

  it("refuses a name that cannot name a caller, naming it but not the key", () => {
    const attempt = () => parseApiKeys("my crm:secret-value-1");

    expect(attempt).toThrow(/"my crm" cannot name a caller/);
    expect(attempt).not.toThrow(/secret-value-1/);
  });

  it("does not accept the stored hash itself as a key: reading the secret does not grant access", () => {
    const hash = sha256("crm-key-1");
    const keys = parseApiKeys(`crm:sha256:${hash}`);

    expect(() => authenticate(bearer(hash), keys)).toThrow(UnauthorizedError);
    expect(() => authenticate(bearer(`sha256:${hash}`), keys)).toThrow(UnauthorizedError);
  });

  it("refuses a malformed hash, naming the entry but never its value", () => {
    const attempt = () => parseApiKeys("crm:sha256:not-a-hash-but-secret-ish");

    expect(attempt).toThrow(/"crm".*64 hex digits/);
    expect(attempt).not.toThrow(/not-a-hash-but-secret-ish/);
    expect(() => parseApiKeys('{"crm":{"sha256":"abc"}}')).toThrow(/"crm"/);
  });

  it("refuses a secret that is not valid JSON without quoting it (JSON.parse's own message would)", () => {
    const attempt = () => parseApiKeys('{"crm": super-secret-key-9}');

    expect(attempt).toThrow("The API keys secret is not valid JSON.");
    expect(attempt).not.toThrow(/super-secret-key-9/);
  });

  it("refuses a JSON entry that is neither a key nor a hash object", () => {
    expect(() => parseApiKeys('{"crm": 42}')).toThrow(/each name to a key/);
    expect(() => parseApiKeys('{"crm": {"md5": "x"}}')).toThrow(/each name to a key/);
    expect(() => parseApiKeys('{"ops": {"operator": true, "keys": []}}')).toThrow(/each name to a key/);
  });
});

describe("authenticate", () => {
  const keys = parseApiKeys(`crm:crm-key-1,shop:sha256:${sha256("shop-key-2")}`);

  it("refuses a missing or non-Bearer Authorization header, saying how to send a key", () => {
    for (const header of [undefined, "", "Basic Y3JtOmtleQ==", "Bearer", "Bearer  "]) {
      expect(() => authenticate(header, keys)).toThrow(/Authorization: Bearer <key>/);
    }
  });

  it("finds the key whatever the scheme's case and the spacing around it", () => {
    for (const header of ["Bearer crm-key-1", "bearer crm-key-1", "BEARER\tcrm-key-1", "Bearer   crm-key-1  "]) {
      expect(authenticate(header, keys)).toBe("key:crm");
    }
  });

  it("refuses an unknown key with the same sentence whoever asks", () => {
    expect(() => authenticate(bearer("crm-key-2"), keys)).toThrow("The API key is not valid.");
    expect(() => authenticate(bearer("CRM-KEY-1"), keys)).toThrow("The API key is not valid.");
  });

  it("finds every configured key by its name and no other string, plain or hashed (property)", () => {
    // Visible ASCII without the comma, which separates entries in the list form.
    const key = fc.stringMatching(/^[\x21-\x2b\x2d-\x7e]{8,40}$/);
    fc.assert(
      fc.property(key, key, fc.boolean(), (mine, other, hashed) => {
        fc.pre(mine !== other);
        const configured = parseApiKeys(hashed ? `me:sha256:${sha256(mine)}` : `me:${mine}`);
        expect(authenticate(bearer(mine), configured)).toBe("key:me");
        expect(() => authenticate(bearer(other), configured)).toThrow(UnauthorizedError);
      }),
      { numRuns: 200 },
    );
  });
});
