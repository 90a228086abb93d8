import { secrets as specs, type SecretCapability } from "./manifest.js";
import { isProduction } from "./stage.js";

/**
 * Secrets Manager secrets (not `sst.Secret`, which SST keeps in its own state and is set through
 * the SST CLI). Access to each is granted per function by infra/lambda.ts from the manifest.
 *
 * No secret version is created here: the values are put with `aws secretsmanager put-secret-value`
 * after the first deploy (docs/deploy.md), so they never pass through code, state or CI. Until then
 * the functions that read them fail with ResourceNotFoundException, which is the honest answer.
 */
function secret(capability: SecretCapability) {
  const spec = specs[capability];
  const resource = new aws.secretsmanager.Secret(
    `${spec.name}Secret`,
    {
      // Readable in the console and per stage; AWS appends its own random suffix to the ARN.
      name: `${$app.name}/${$app.stage}/${spec.name}`,
      description: `${spec.description} Stage: ${$app.stage}.`,
      // Disposable stages delete at once so `sst remove` + deploy never hits "scheduled for
      // deletion"; production keeps a recovery window in case it is ever deleted by hand.
      recoveryWindowInDays: isProduction ? 30 : 0,
    },
    // `removal: "retain"` only retains tables, buckets and databases: secrets need it explicitly.
    { retainOnDelete: isProduction },
  );
  return { secret: resource };
}

export const passEntryToken = secret("passEntryToken");
export const apiKeys = secret("apiKeys");
export const webhookSecrets = secret("webhookSecrets");
/** Read only by the accept handler: signed trigger requests are its alternative to API keys. */
export const webhookSigningSecrets = secret("webhookSigningSecrets");
