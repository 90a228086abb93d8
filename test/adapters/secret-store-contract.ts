/**
 * The SecretStore contract: how the PassEntry token and API keys are read, whichever home provides
 * them. Run it with `describeSecretStoreContract(name, makeHarness)`; the harness starts with the
 * given values configured and nothing else.
 */
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import type { SecretName, SecretStore } from "../../functions/core/ports.js";

export interface SecretStoreHarness {
  store: SecretStore;
  close(): Promise<void>;
}

export type MakeSecretStoreHarness = (values: Partial<Record<SecretName, string>>) => Promise<SecretStoreHarness>;

const TOKEN = "canary-secret-token-7Qx9";
const API_KEYS = '{"shop":"canary-api-key-Lm3p"}';

export function describeSecretStoreContract(name: string, makeHarness: MakeSecretStoreHarness): void {
  describe(`${name} (SecretStore contract)`, () => {
    let harness: SecretStoreHarness | undefined;
    const start = async (values: Partial<Record<SecretName, string>>) => {
      harness = await makeHarness(values);
      return harness.store;
    };

    afterEach(async () => {
      await harness?.close();
      harness = undefined;
    });

    it("returns the value configured for each name", async () => {
      // Prepare
      const store = await start({ "passentry-token": TOKEN, "api-keys": API_KEYS });

      // Act
      const values = [await store.get("passentry-token"), await store.get("api-keys")];

      // Assess
      expect(values).toEqual([TOKEN, API_KEYS]);
    });

    it("returns the same value when read again", async () => {
      // Prepare
      const store = await start({ "passentry-token": TOKEN });

      // Act
      const values = await Promise.all([
        store.get("passentry-token"),
        store.get("passentry-token"),
        store.get("passentry-token"),
      ]);

      // Assess
      expect(values).toEqual([TOKEN, TOKEN, TOKEN]);
    });

    it("rejects with an error naming the secret, and no secret value, when the name is not configured", async () => {
      // Prepare
      const store = await start({ "passentry-token": TOKEN, "api-keys": API_KEYS });

      // Act
      const error = await store.get("passentry-webhook-secrets").then(
        () => undefined,
        (e: unknown) => e,
      );

      // Assess
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain("passentry-webhook-secrets");
      for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 5 })]) {
        expect(text).not.toContain(TOKEN);
        expect(text).not.toContain("canary-api-key");
      }
    });

    it("still returns the value after invalidate", async () => {
      // Prepare
      const store = await start({ "passentry-token": TOKEN });
      await store.get("passentry-token");

      // Act
      store.invalidate("passentry-token");
      const value = await store.get("passentry-token");

      // Assess
      expect(value).toBe(TOKEN);
    });
  });
}
