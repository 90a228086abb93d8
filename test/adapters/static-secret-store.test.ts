/**
 * The local secret store keeps the secret-store contract and takes a rotated value at run time.
 */
import { describe, expect, it } from "vitest";
import { StaticSecretStore } from "../../functions/adapters/static-secret-store.js";
import { describeSecretStoreContract } from "./secret-store-contract.js";

describeSecretStoreContract("StaticSecretStore", async (values) => ({
  store: new StaticSecretStore(values),
  close: async () => {},
}));

describe("StaticSecretStore (run-time rotation)", () => {
  it("returns the new value at once when a value is replaced", async () => {
    // Prepare
    const store = new StaticSecretStore({ "passentry-token": "old-token" });
    await store.get("passentry-token");

    // Act
    store.set("passentry-token", "new-token");

    // Assess
    expect(await store.get("passentry-token")).toBe("new-token");
  });

  it("ignores names given without a value", async () => {
    // Prepare
    const store = new StaticSecretStore({ "passentry-token": undefined });

    // Act
    const attempt = store.get("passentry-token");

    // Assess
    await expect(attempt).rejects.toThrow("No secret is configured for passentry-token.");
  });
});
