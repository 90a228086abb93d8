/**
 * What IAM authorizes for one AWS API request: the service, the operation, and each
 * (action, resource) pair AWS checks, read from the wire exactly as the SDK sent it (JSON protocols,
 * `X-Amz-Target`). A request AWS authorizes per item (TransactWriteItems, BatchWriteItem) yields one
 * pair per item, as AWS evaluates them.
 */

export interface AwsRequest {
  service: "dynamodb" | "sqs" | "secretsmanager" | "events" | string;
  operation: string;
  /** The access key the request was signed with: who is calling. */
  accessKeyId: string | undefined;
  body: Record<string, any>;
}

export interface Authorization {
  action: string;
  resource: string;
}

const TARGET_PREFIXES: Record<string, string> = {
  DynamoDB_20120810: "dynamodb",
  AmazonSQS: "sqs",
  secretsmanager: "secretsmanager",
  AWSEvents: "events",
};

/** Parses a signed JSON-protocol request; undefined fields when it is not one. */
export function parseAwsRequest(headers: Record<string, string | string[] | undefined>, rawBody: string): AwsRequest {
  const target = String(headers["x-amz-target"] ?? "");
  const [prefix, operation] = target.split(".");
  const authorization = String(headers.authorization ?? "");
  const credential = /Credential=([^/]+)\/[^/]+\/[^/]+\/([^/]+)\//.exec(authorization);
  let body: Record<string, any> = {};
  try {
    body = rawBody ? (JSON.parse(rawBody) as Record<string, any>) : {};
  } catch {
    body = {};
  }
  return {
    service: TARGET_PREFIXES[prefix ?? ""] ?? credential?.[2] ?? "unknown",
    operation: operation ?? "",
    accessKeyId: credential?.[1],
    body,
  };
}

export interface ArnContext {
  region: string;
  accountId: string;
  /** The ARN of a queue given its URL (the stack's URLs are synthesized, so only the stack knows). */
  queueArnForUrl(url: string): string | undefined;
  /** The ARN of a secret given an id (ARN, partial ARN or name). */
  secretArnFor(id: string): string | undefined;
}

/** Actions whose name differs from the operation that performs them. */
const SQS_BATCH_ACTIONS: Record<string, string> = {
  SendMessageBatch: "SendMessage",
  DeleteMessageBatch: "DeleteMessage",
  ChangeMessageVisibilityBatch: "ChangeMessageVisibility",
};

export function authorizationsFor(request: AwsRequest, ctx: ArnContext): Authorization[] {
  const { service, operation, body } = request;
  const table = (name: string) =>
    name.startsWith("arn:") ? name : `arn:aws:dynamodb:${ctx.region}:${ctx.accountId}:table/${name}`;
  switch (service) {
    case "dynamodb": {
      if (operation === "TransactWriteItems") {
        return ((body.TransactItems ?? []) as Record<string, any>[]).flatMap((item) => {
          const [kind, spec] = Object.entries(item)[0] ?? [];
          const action = {
            Put: "PutItem",
            Update: "UpdateItem",
            Delete: "DeleteItem",
            ConditionCheck: "ConditionCheckItem",
          }[kind ?? ""];
          return action ? [{ action: `dynamodb:${action}`, resource: table(spec.TableName) }] : [];
        });
      }
      if (operation === "TransactGetItems")
        return ((body.TransactItems ?? []) as any[]).map((i) => ({
          action: "dynamodb:GetItem",
          resource: table(i.Get?.TableName),
        }));
      if (operation === "BatchWriteItem")
        return Object.keys(body.RequestItems ?? {}).map((name) => ({
          action: "dynamodb:BatchWriteItem",
          resource: table(name),
        }));
      if (operation === "BatchGetItem")
        return Object.keys(body.RequestItems ?? {}).map((name) => ({
          action: "dynamodb:BatchGetItem",
          resource: table(name),
        }));
      if (operation === "ListTables") return [{ action: "dynamodb:ListTables", resource: "*" }];
      const resource = body.IndexName
        ? `${table(body.TableName)}/index/${body.IndexName}`
        : table(body.TableName ?? body.ResourceArn ?? "");
      return [{ action: `dynamodb:${operation}`, resource }];
    }
    case "sqs": {
      const action = `sqs:${SQS_BATCH_ACTIONS[operation] ?? operation}`;
      if (operation === "ListQueues") return [{ action, resource: "*" }];
      if (operation === "GetQueueUrl")
        return [
          {
            action,
            resource: `arn:aws:sqs:${ctx.region}:${body.QueueOwnerAWSAccountId ?? ctx.accountId}:${body.QueueName}`,
          },
        ];
      if (operation === "StartMessageMoveTask" || operation === "ListMessageMoveTasks")
        return [{ action, resource: String(body.SourceArn) }];
      if (operation === "CancelMessageMoveTask") return [{ action, resource: "*" }];
      const url = String(body.QueueUrl ?? "");
      return [
        {
          action,
          resource: ctx.queueArnForUrl(url) ?? `arn:aws:sqs:${ctx.region}:${ctx.accountId}:${url.split("/").pop()}`,
        },
      ];
    }
    case "secretsmanager": {
      const action = `secretsmanager:${operation}`;
      if (operation === "ListSecrets" || operation === "BatchGetSecretValue") return [{ action, resource: "*" }];
      const id = String(body.SecretId ?? "");
      return [
        {
          action,
          resource:
            ctx.secretArnFor(id) ??
            (id.startsWith("arn:") ? id : `arn:aws:secretsmanager:${ctx.region}:${ctx.accountId}:secret:${id}`),
        },
      ];
    }
    case "events": {
      if (operation === "PutEvents") {
        const buses = new Set(((body.Entries ?? []) as any[]).map((e) => String(e.EventBusName ?? "default")));
        return [...buses].map((bus) => ({
          action: "events:PutEvents",
          resource: bus.startsWith("arn:") ? bus : `arn:aws:events:${ctx.region}:${ctx.accountId}:event-bus/${bus}`,
        }));
      }
      return [{ action: `events:${operation}`, resource: "*" }];
    }
    default:
      return [{ action: `${service}:${operation}`, resource: "*" }];
  }
}
