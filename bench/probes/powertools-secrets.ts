/** Probe: Powertools' SecretsProvider over a Secrets Manager client, one cached get(), as our secret store does. */
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
export const handler = async () => {
  const p = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({}) });
  await p.get(process.env.API_KEYS_SECRET_ID!);
  return { statusCode: 200 };
};
