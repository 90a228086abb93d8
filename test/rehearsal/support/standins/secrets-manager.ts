/**
 * Secrets Manager for the rehearsal: the synthesized secrets, created without a value (the infra
 * creates none: an operator puts them after the first deploy), answering GetSecretValue,
 * DescribeSecret and PutSecretValue by ARN, partial ARN or name, with AWS's error for a secret
 * that has no value yet.
 */
import { randomUUID } from "node:crypto";
import type { SecretView } from "../../../infra/synthesis/stack-model.js";

interface StoredSecret extends SecretView {
  value?: string;
  versionId?: string;
  createdDate: number;
}

export interface StandInAnswer {
  status: number;
  body: Record<string, unknown>;
}

const error = (status: number, type: string, message: string): StandInAnswer => ({
  status,
  body: { __type: type, message },
});

export class SecretsManagerStandIn {
  private readonly secrets: StoredSecret[];

  constructor(secrets: SecretView[]) {
    this.secrets = secrets.map((s) => ({ ...s, createdDate: Date.now() / 1000 }));
  }

  /** Finds a secret as Secrets Manager does: full ARN, ARN without its random suffix, or name. */
  find(id: string): StoredSecret | undefined {
    return this.secrets.find((s) => s.arn === id || s.name === id || s.arn.replace(/-[A-Za-z0-9]{6}$/, "") === id);
  }

  /** The operator's `aws secretsmanager put-secret-value`. */
  put(id: string, value: string): void {
    const secret = this.find(id);
    if (!secret) throw new Error(`No synthesized secret is called ${id}.`);
    secret.value = value;
    secret.versionId = randomUUID();
  }

  handle(operation: string, body: Record<string, any>): StandInAnswer {
    const secret = this.find(String(body.SecretId ?? ""));
    if (!secret) return error(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    switch (operation) {
      case "GetSecretValue":
        if (secret.value === undefined)
          return error(
            400,
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
          );
        return {
          status: 200,
          body: {
            ARN: secret.arn,
            Name: secret.name,
            SecretString: secret.value,
            VersionId: secret.versionId,
            VersionStages: ["AWSCURRENT"],
            CreatedDate: secret.createdDate,
          },
        };
      case "DescribeSecret":
        return { status: 200, body: { ARN: secret.arn, Name: secret.name, CreatedDate: secret.createdDate } };
      case "PutSecretValue":
        this.put(secret.arn, String(body.SecretString ?? ""));
        return {
          status: 200,
          body: { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId, VersionStages: ["AWSCURRENT"] },
        };
      default:
        return error(400, "UnsupportedOperation", `The rehearsal's Secrets Manager does not implement ${operation}.`);
    }
  }
}
