/**
 * Secrets from AWS Secrets Manager through Powertools' SecretsProvider, which caches each value for
 * `maxAgeSeconds` so a warm Lambda does not call Secrets Manager per message. `invalidate` makes
 * the next read bypass the cache (after PassEntry refused a token that may have been rotated).
 */
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import type { SecretName, SecretStore } from "../core/ports.js";

export class SecretsManagerSecretStore implements SecretStore {
  private readonly provider: SecretsProvider;
  private readonly stale = new Set<SecretName>();

  constructor(
    private readonly secretIds: Partial<Record<SecretName, string>>,
    private readonly maxAgeSeconds = 300,
    client: SecretsManagerClient = new SecretsManagerClient({}),
  ) {
    this.provider = new SecretsProvider({ awsSdkV3Client: client });
  }

  async get(name: SecretName): Promise<string> {
    const secretId = this.secretIds[name];
    if (!secretId) throw new Error(`No secret is configured for ${name}.`);
    const forceFetch = this.stale.delete(name);
    const value = await this.provider.get(secretId, { maxAge: this.maxAgeSeconds, forceFetch });
    if (typeof value !== "string" || value.length === 0)
      throw new Error(`The secret for ${name} is empty or not a string.`);
    return value;
  }

  invalidate(name: SecretName): void {
    this.stale.add(name);
  }
}
