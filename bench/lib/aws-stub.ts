/**
 * A loopback stand-in for the three AWS services our Lambdas call, so a cold start can be measured
 * with the SDK doing its real work (resolving config, signing, serialising, parsing) without AWS.
 *
 * SDK v3 honours `AWS_ENDPOINT_URL`, so every client in the child process talks to this one server.
 * It speaks the JSON protocols by `x-amz-target`: Secrets Manager `GetSecretValue`, SQS `SendMessage`
 * (answering the MD5 the SDK checks), EventBridge `PutEvents`, and the DynamoDB calls our adapters
 * make, over an in-memory table that honours `attribute_not_exists(pk)` (the one condition whose
 * failure changes our code's path) and ignores the others.
 */
import { createHash, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

type Item = Record<string, Record<string, unknown>>;

export interface AwsStub {
  url: string;
  /** Calls answered, by `x-amz-target` (e.g. `DynamoDB_20120810.PutItem`). */
  calls: Map<string, number>;
  /** Operations the stub had no answer for: the bench reports them, since they bend the figures. */
  unanswered: Set<string>;
  seed(item: Item): void;
  close(): Promise<void>;
}

export interface AwsStubOptions {
  /** SecretId -> SecretString. */
  secrets: Record<string, string>;
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

function keyOf(item: Item | undefined): string {
  return `${String(item?.pk?.S)}|${String(item?.sk?.S)}`;
}

export async function startAwsStub(options: AwsStubOptions): Promise<AwsStub> {
  const table = new Map<string, Item>();
  const calls = new Map<string, number>();
  const unanswered = new Set<string>();

  const conditionFails = (item: Item, condition: unknown) =>
    condition === "attribute_not_exists(pk)" && table.has(keyOf(item));

  const dynamo: Record<string, (input: any) => unknown> = {
    PutItem(input) {
      if (conditionFails(input.Item, input.ConditionExpression))
        throw new AwsError("ConditionalCheckFailedException", "The conditional request failed");
      table.set(keyOf(input.Item), input.Item);
      return {};
    },
    TransactWriteItems(input) {
      const reasons = input.TransactItems.map((t: any) =>
        t.Put && conditionFails(t.Put.Item, t.Put.ConditionExpression)
          ? { Code: "ConditionalCheckFailed" }
          : { Code: "None" },
      );
      if (reasons.some((r: { Code: string }) => r.Code !== "None")) {
        throw new AwsError("TransactionCanceledException", "Transaction cancelled", { CancellationReasons: reasons });
      }
      for (const t of input.TransactItems) {
        if (t.Put) dynamo.PutItem!(t.Put);
        if (t.Update) dynamo.UpdateItem!(t.Update);
        if (t.Delete) dynamo.DeleteItem!(t.Delete);
      }
      return {};
    },
    GetItem(input) {
      const item = table.get(keyOf(input.Key));
      return item ? { Item: item } : {};
    },
    // The two forms the adapters write: `SET #a = :a, … REMOVE #b, …` and a condition `#x = :y` (a
    // version, or a record's previous text). Applied as DynamoDB would, so the sender reads back
    // what it wrote and its path (and so the calls counted) is the deployed one.
    UpdateItem(input) {
      const item = table.get(keyOf(input.Key));
      const names: Record<string, string> = input.ExpressionAttributeNames ?? {};
      const values: Record<string, unknown> = input.ExpressionAttributeValues ?? {};
      const condition = /^(#\w+) = (:\w+)$/.exec(input.ConditionExpression ?? "");
      if (condition) {
        const [, name, value] = condition;
        if (!item || JSON.stringify(item[names[name!]!]) !== JSON.stringify(values[value!]))
          throw new AwsError("ConditionalCheckFailedException", "The conditional request failed");
      }
      if (!item) return {};
      const expression: string = input.UpdateExpression ?? "";
      const set = /SET (.*?)(?: REMOVE |$)/.exec(expression)?.[1] ?? "";
      const remove = /REMOVE (.*)$/.exec(expression)?.[1] ?? "";
      for (const assignment of set.split(",").filter((a) => a.trim())) {
        const [name, value] = assignment.split("=").map((part) => part.trim()) as [string, string];
        item[names[name] ?? name] = values[value] as Item[string];
      }
      for (const name of remove
        .split(",")
        .map((n) => n.trim())
        .filter(Boolean))
        delete item[names[name] ?? name];
      return {};
    },
    DeleteItem(input) {
      table.delete(keyOf(input.Key));
      return {};
    },
    Query(input) {
      const pk = input.ExpressionAttributeValues?.[":pk"]?.S;
      const prefix = input.ExpressionAttributeValues?.[":send"]?.S ?? "";
      const items = [...table.values()].filter((i) => i.pk?.S === pk && String(i.sk?.S).startsWith(prefix));
      return { Items: items, Count: items.length, ScannedCount: items.length };
    },
  };

  const answer = (target: string, input: any): { body: unknown; contentType: string } => {
    const [service, operation] = target.split(".") as [string, string];
    if (service === "secretsmanager" && operation === "GetSecretValue") {
      const value = options.secrets[input.SecretId];
      if (value === undefined)
        throw new AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
      return {
        contentType: "application/x-amz-json-1.1",
        body: {
          ARN: input.SecretId,
          Name: input.SecretId,
          SecretString: value,
          VersionId: "00000000-0000-0000-0000-000000000001",
          VersionStages: ["AWSCURRENT"],
          CreatedDate: 1_748_854_800,
        },
      };
    }
    if (service === "AmazonSQS" && operation === "SendMessage") {
      return {
        contentType: "application/x-amz-json-1.0",
        body: {
          MessageId: randomUUID(),
          MD5OfMessageBody: createHash("md5").update(String(input.MessageBody)).digest("hex"),
        },
      };
    }
    if (service === "AWSEvents" && operation === "PutEvents") {
      return {
        contentType: "application/x-amz-json-1.1",
        body: { FailedEntryCount: 0, Entries: (input.Entries ?? []).map(() => ({ EventId: randomUUID() })) },
      };
    }
    if (service === "DynamoDB_20120810" && dynamo[operation]) {
      return { contentType: "application/x-amz-json-1.0", body: dynamo[operation]!(input) };
    }
    unanswered.add(target || "(no x-amz-target)");
    throw new AwsError("UnknownOperationException", `The bench's AWS stub does not answer ${target}.`);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      calls.set(target, (calls.get(target) ?? 0) + 1);
      let status = 200;
      let contentType = "application/x-amz-json-1.0";
      let body: unknown;
      try {
        const input = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
        ({ body, contentType } = answer(target, input));
      } catch (error) {
        status = 400;
        const e = error instanceof AwsError ? error : new AwsError("InternalFailure", (error as Error).message);
        body = { __type: e.type, message: e.message, ...e.extra };
        res.setHeader("x-amzn-errortype", e.type);
      }
      const text = JSON.stringify(body);
      res.writeHead(status, {
        "content-type": contentType,
        "content-length": Buffer.byteLength(text),
        "x-amzn-requestid": randomUUID(),
      });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    unanswered,
    seed(item) {
      table.set(keyOf(item), item);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
