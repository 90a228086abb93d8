/** Secrets Manager, for the functions that read a secret (the planner reads none). */
import { SecretsManagerSecretStore } from "../adapters/secrets-manager-secret-store.js";
import type { SecretStore } from "../core/ports.js";
import { awsConfig, once } from "./aws-base.js";

export const awsSecrets = once((): SecretStore => {
  const config = awsConfig();
  return new SecretsManagerSecretStore(
    {
      "passentry-token": config.PASSENTRY_TOKEN_SECRET_ID,
      "api-keys": config.API_KEYS_SECRET_ID,
      "passentry-webhook-secrets": config.PASSENTRY_WEBHOOK_SECRETS_SECRET_ID,
      "webhook-signing-secrets": config.WEBHOOK_SIGNING_SECRETS_SECRET_ID,
    },
    config.SECRET_CACHE_SECONDS,
  );
});
