/** Probe: the Secrets Manager client alone, one GetSecretValue. */
import { SecretsManagerClient, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
export const handler = async () => {
  const c = new SecretsManagerClient({});
  await c.send(new GetSecretValueCommand({ SecretId: process.env.API_KEYS_SECRET_ID }));
  return { statusCode: 200 };
};
