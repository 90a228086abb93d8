/**
 * Secrets Manager secrets are read once and cached, re-read after invalidation (a rotation), and a
 * missing or empty secret rejects without revealing any value.
 */
import { inspect } from "node:util";
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  type GetSecretValueCommandInput,
} from "@aws-sdk/client-secrets-manager";
import { mockClient, type AwsStub } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SecretsManagerSecretStore } from "../../functions/adapters/secrets-manager-secret-store.js";
import type { SecretName } from "../../functions/core/ports.js";
import { describeSecretStoreContract } from "./secret-store-contract.js";

const ARNS: Record<SecretName, string> = {
  "passentry-token": "arn:aws:secretsmanager:eu-west-2:123456789012:secret:PassEntryToken-AbCdEf",
  "api-keys": "arn:aws:secretsmanager:eu-west-2:123456789012:secret:ApiKeys-AbCdEf",
  "passentry-webhook-secrets": "arn:aws:secretsmanager:eu-west-2:123456789012:secret:PassEntryWebhookSecrets-AbCdEf",
  "webhook-signing-secrets": "arn:aws:secretsmanager:eu-west-2:123456789012:secret:WebhookSigningSecrets-AbCdEf",
};

const newClient = () =>
  new SecretsManagerClient({ region: "eu-west-2", credentials: { accessKeyId: "test", secretAccessKey: "test" } });

describeSecretStoreContract("SecretsManagerSecretStore", async (values) => {
  const client = newClient();
  const secretsMock = mockClient(client);
  const secretIds: Partial<Record<SecretName, string>> = {};
  for (const [name, value] of Object.entries(values) as [SecretName, string][]) {
    secretIds[name] = ARNS[name];
    secretsMock.on(GetSecretValueCommand, { SecretId: ARNS[name] }).resolves({ ARN: ARNS[name], SecretString: value });
  }
  return {
    store: new SecretsManagerSecretStore(secretIds, 300, client),
    close: async () => {
      secretsMock.restore();
      client.destroy();
    },
  };
});

describe("SecretsManagerSecretStore (caching and rotation)", () => {
  let client: SecretsManagerClient;
  let secretsMock: AwsStub<any, any, any>;
  let current: string;

  beforeEach(() => {
    client = newClient();
    secretsMock = mockClient(client);
    current = "token-v1";
    secretsMock
      .on(GetSecretValueCommand, { SecretId: ARNS["passentry-token"] })
      .callsFake(async () => ({ ARN: ARNS["passentry-token"], SecretString: current }));
  });

  afterEach(() => {
    secretsMock.restore();
    client.destroy();
  });

  const reads = () =>
    secretsMock
      .commandCalls(GetSecretValueCommand)
      .map((call) => (call.args[0].input as GetSecretValueCommandInput).SecretId);

  it("reads Secrets Manager once and answers later gets from its cache", async () => {
    // Prepare
    const store = new SecretsManagerSecretStore({ "passentry-token": ARNS["passentry-token"] }, 300, client);

    // Act
    const values = [
      await store.get("passentry-token"),
      await store.get("passentry-token"),
      await store.get("passentry-token"),
    ];

    // Assess
    expect(values).toEqual(["token-v1", "token-v1", "token-v1"]);
    expect(reads()).toEqual([ARNS["passentry-token"]]);
  });

  it("keeps answering the cached value after a rotation until invalidated", async () => {
    // Prepare
    const store = new SecretsManagerSecretStore({ "passentry-token": ARNS["passentry-token"] }, 300, client);
    await store.get("passentry-token");

    // Act
    current = "token-v2";
    const beforeInvalidate = await store.get("passentry-token");

    // Assess
    expect(beforeInvalidate).toBe("token-v1");
    expect(reads()).toHaveLength(1);
  });

  it("reads once afresh after invalidate and returns the rotated value, then caches it", async () => {
    // Prepare
    const store = new SecretsManagerSecretStore({ "passentry-token": ARNS["passentry-token"] }, 300, client);
    await store.get("passentry-token");
    current = "token-v2";

    // Act
    store.invalidate("passentry-token");
    const values = [await store.get("passentry-token"), await store.get("passentry-token")];

    // Assess
    expect(values).toEqual(["token-v2", "token-v2"]);
    expect(reads()).toHaveLength(2);
  });

  it("rejects without the value when the secret is empty", async () => {
    // Prepare
    secretsMock.on(GetSecretValueCommand, { SecretId: ARNS["api-keys"] }).resolves({ SecretString: "" });
    const store = new SecretsManagerSecretStore({ "api-keys": ARNS["api-keys"] }, 300, client);

    // Act
    const attempt = store.get("api-keys");

    // Assess
    await expect(attempt).rejects.toThrow("The secret for api-keys is empty or not a string.");
  });

  it("rejects, revealing no secret value, when Secrets Manager cannot find the secret", async () => {
    // Prepare
    secretsMock
      .on(GetSecretValueCommand, { SecretId: ARNS["api-keys"] })
      .rejects(
        new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }),
      );
    const store = new SecretsManagerSecretStore(
      { "passentry-token": ARNS["passentry-token"], "api-keys": ARNS["api-keys"] },
      300,
      client,
    );
    await store.get("passentry-token");

    // Act
    const error = await store.get("api-keys").then(
      () => undefined,
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(Error);
    for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 5 })])
      expect(text).not.toContain("token-v1");
  });
});
