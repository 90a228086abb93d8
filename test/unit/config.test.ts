/**
 * The configuration: every default in one place, and a missing or malformed variable stops start-up
 * with a sentence naming it.
 */
import { describe, expect, it } from "vitest";
import { loadAwsConfig, loadLocalConfig } from "../../functions/config.js";
import { ConfigError } from "../../functions/core/errors.js";
import { MAX_RECEIVES } from "../../functions/core/retry-policy.js";

const AWS = {
  WALLET_HOME: "aws",
  WALLET_STAGE: "production",
  MESSAGES_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/1/q",
  WALLET_TABLE_NAME: "WalletTable",
};

describe("configuration", () => {
  it("starts the embedded home with its defaults: a 60 s lease, 40 pages of reconciliation, 50 receives", () => {
    expect(loadLocalConfig({})).toMatchObject({
      SEND_LEASE_MS: 60_000,
      PASSENTRY_TIMEOUT_MS: 10_000,
      RECONCILE_MAX_PAGES: 40,
      MAX_RECEIVES,
    });
  });

  it("refuses a lease no longer than twice the PassEntry timeout, naming both settings", () => {
    const attempt = () => loadLocalConfig({ SEND_LEASE_MS: "20000", PASSENTRY_TIMEOUT_MS: "10000" });

    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/SEND_LEASE_MS must be more than twice PASSENTRY_TIMEOUT_MS/);
    expect(() => loadAwsConfig({ ...AWS, SEND_LEASE_MS: "15000" })).toThrow(
      /SEND_LEASE_MS must be more than twice PASSENTRY_TIMEOUT_MS/,
    );
  });

  it("accepts the AWS home's lease (the sender's timeout + 30 s)", () => {
    expect(loadAwsConfig({ ...AWS, SEND_LEASE_MS: "90000" }).SEND_LEASE_MS).toBe(90_000);
  });
});
