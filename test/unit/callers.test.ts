/**
 * Who may see and act on a request: its caller, or an operator, and nobody else.
 */
import { describe, expect, it } from "vitest";
import { callerId, isOperator, legacyKeyOwners, mayAccess, ownersOf } from "../../functions/core/callers.js";
import { requestRecord } from "../adapters/request-store-contract.js";

describe("callers", () => {
  it("names a caller by kind and name, refusing names that cannot be one", () => {
    expect(callerId("key", "crm")).toBe("key:crm");
    expect(callerId("signer", "crm")).toBe("signer:crm");
    for (const name of ["", "my crm", "a#b", "a:b", "x".repeat(65), "crm\n"])
      expect(() => callerId("key", name)).toThrow(/cannot name a caller/);
  });

  it("lets a request's own caller and operators in, and nobody else, a key and a signer of one name included", () => {
    const crms = requestRecord({ caller: "key:crm" });

    expect(mayAccess("key:crm", crms)).toBe(true);
    expect(mayAccess("operator:ops", crms)).toBe(true);
    expect(mayAccess("key:shop", crms)).toBe(false);
    expect(mayAccess("signer:crm", crms)).toBe(false);
    expect(isOperator("operator:crm")).toBe(true);
    expect(isOperator("key:operator")).toBe(false);
  });

  it("gives a request with no caller (sent straight to the queue or bus) to operators only", () => {
    const fromSqs = requestRecord({ source: "sqs" });

    expect(ownersOf(fromSqs)).toEqual([]);
    expect(mayAccess("key:crm", fromSqs)).toBe(false);
    expect(mayAccess("operator:ops", fromSqs)).toBe(true);
  });

  it("gives a record an earlier version wrote (apiKeyName only) to the key and the signer of that name", () => {
    const old = requestRecord({ apiKeyName: "crm" });

    expect(ownersOf(old)).toEqual(["key:crm", "signer:crm"]);
    expect(mayAccess("key:shop", old)).toBe(false);
  });

  it("files an old automation request's key under every automation its id could name", () => {
    const old = requestRecord({ requestId: "auto-thanks-for-visiting-evt-1", source: "webhook" });

    expect(legacyKeyOwners(old)).toEqual([
      "automation:thanks",
      "automation:thanks-for",
      "automation:thanks-for-visiting",
      "automation:thanks-for-visiting-evt",
    ]);
    expect(legacyKeyOwners(requestRecord({ requestId: "auto-x-1", source: "http" }))).toEqual([]);
  });
});
