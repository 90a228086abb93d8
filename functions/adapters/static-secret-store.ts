/**
 * Secrets given as plain values: the embedded home reads them from the environment or `.env`
 * (PASSENTRY_TOKEN, API_KEYS). Values can be swapped at run time, which is how a local token
 * rotation is simulated; on AWS secrets never live in environment variables.
 */
import type { SecretName, SecretStore } from "../core/ports.js";

export class StaticSecretStore implements SecretStore {
  private readonly values: Map<SecretName, string>;

  constructor(values: Partial<Record<SecretName, string>>) {
    this.values = new Map(Object.entries(values).filter(([, v]) => v !== undefined) as [SecretName, string][]);
  }

  async get(name: SecretName): Promise<string> {
    const value = this.values.get(name);
    if (value === undefined) throw new Error(`No secret is configured for ${name}.`);
    return value;
  }

  invalidate(): void {
    // Nothing is cached: every get reads the current value.
  }

  /** Replaces a value, e.g. to rotate the PassEntry token while running. */
  set(name: SecretName, value: string): void {
    this.values.set(name, value);
  }
}
