/**
 * Wiring of the AWS home, checked without AWS or Pulumi: the manifest that `infra/` builds from,
 * and the infra sources' use of it. Runs in `npm test` and in `npm run check:infra`.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  alarms,
  apiThrottling,
  environmentFor,
  functions,
  PASSENTRY_ACCOUNT_RATE_PER_SECOND,
  PASSENTRY_RATE_PER_SECOND_PER_WORKER,
  passEntryBaseUrl,
  queues,
  routes,
  secrets,
  SENDER_MAX_CONCURRENCY,
  senderSubscription,
  type DeployedValues,
  type FunctionKey,
  type FunctionSpec,
  type QueueSpec,
} from "../../infra/manifest.js";
import { callArguments, importsOf, infraSources, readProjectFile, stripComments } from "./support/infra-sources.js";

const deployed: DeployedValues<string> = {
  queueUrl: "https://sqs.eu-west-2.amazonaws.com/123456789012/MessagesQueue",
  deadLetterQueueUrl: "https://sqs.eu-west-2.amazonaws.com/123456789012/MessagesDeadLetterQueue",
  tableName: "wallet-messaging-test-WalletTable",
  busName: "wallet-messaging-test-WalletBus",
  secretArns: {
    passEntryToken: "arn:aws:secretsmanager:eu-west-2:123456789012:secret:PassEntryToken-AbCdEf",
    apiKeys: "arn:aws:secretsmanager:eu-west-2:123456789012:secret:ApiKeys-AbCdEf",
    webhookSecrets: "arn:aws:secretsmanager:eu-west-2:123456789012:secret:PassEntryWebhookSecrets-AbCdEf",
    webhookSigningSecrets: "arn:aws:secretsmanager:eu-west-2:123456789012:secret:WebhookSigningSecrets-AbCdEf",
  },
};

const allFunctions = Object.entries(functions) as [FunctionKey, FunctionSpec][];
const keysWith = (capability: string) =>
  allFunctions.filter(([, spec]) => (spec.capabilities as readonly string[]).includes(capability)).map(([key]) => key).sort();
const keysWithEnv = (name: string) =>
  allFunctions.filter(([, spec]) => name in environmentFor(spec, deployed, {})).map(([key]) => key).sort();

const SHARED_ENV = [
  "EVENT_BUS_NAME",
  "MESSAGES_QUEUE_URL",
  "PASSENTRY_BASE_URL",
  "PASSENTRY_RATE_PER_SECOND",
  "POWERTOOLS_SERVICE_NAME",
  "SEND_LEASE_MS",
  "WALLET_HOME",
  "WALLET_TABLE_NAME",
];

describe("manifest functions", () => {
  it("names one handler file per function under functions/handlers, exporting `handler`", () => {
    // Prepare
    const handlers = allFunctions.map(([, spec]) => spec.handler);

    // Assess
    for (const handler of handlers) expect(handler).toMatch(/^functions\/handlers\/[a-z][a-z0-9-]*\.handler$/);
    expect(new Set(handlers).size).toBe(handlers.length);
    expect(new Set(allFunctions.map(([, spec]) => spec.name)).size).toBe(allFunctions.length);
  });

  it("keeps every HTTP handler's timeout under API Gateway's 30 s integration limit", () => {
    for (const { fn } of routes) expect(functions[fn].timeoutSeconds).toBeLessThan(30);
  });

  it("routes exactly the seven HTTP endpoints and the console's pages, each to its handler", () => {
    const table = Object.fromEntries(routes.map(({ route, fn }) => [route, functions[fn].handler]));

    expect(table).toEqual({
      "POST /api/v1/entities/{entityId}/messaging/wallet": "functions/handlers/accept.handler",
      "GET /api/v1/requests": "functions/handlers/request-list.handler",
      "GET /api/v1/requests/{requestId}": "functions/handlers/request-status.handler",
      "DELETE /api/v1/requests/{requestId}": "functions/handlers/request-cancel.handler",
      "POST /api/v1/requests/{requestId}/resolve": "functions/handlers/request-resolve.handler",
      "GET /health": "functions/handlers/health.handler",
      "POST /webhooks/passentry": "functions/handlers/passentry-webhook.handler",
      "GET /": "functions/handlers/console.handler",
      "GET /console/requests/{requestId}": "functions/handlers/console.handler",
      "POST /console/sign-in": "functions/handlers/console.handler",
      "POST /console/sign-out": "functions/handlers/console.handler",
      "POST /console/redrive": "functions/handlers/console.handler",
      "POST /console/requests/{requestId}/cancel": "functions/handlers/console.handler",
    });
  });

  it("runs every function: each one is routed, the queue's subscriber, or a promotion schedule's target", () => {
    const routed = new Set<FunctionKey>(routes.map(({ fn }) => fn));
    const unrouted = allFunctions.map(([key]) => key).filter((key) => !routed.has(key));

    expect(unrouted.sort()).toEqual(["planner", "sender"]);
  });
});

describe("secret access", () => {
  it("lets only the sender read the PassEntry token", () => {
    expect(keysWith("passEntryToken")).toEqual(["sender"]);
    expect(keysWithEnv("PASSENTRY_TOKEN_SECRET_ID")).toEqual(["sender"]);
  });

  it("gives the API keys only to the HTTP handlers that check keys", () => {
    expect(keysWith("apiKeys")).toEqual(["accept", "console", "requestCancel", "requestList", "requestResolve", "requestStatus"]);
    expect(keysWithEnv("API_KEYS_SECRET_ID")).toEqual(["accept", "console", "requestCancel", "requestList", "requestResolve", "requestStatus"]);
  });

  it("gives the console only the actions its pages and its two actions call: no link to the table or the queues, no token", () => {
    expect(functions.console.capabilities).toEqual(["apiKeys"]);
    expect(functions.console.grants.map((g) => [g.on, [...g.actions].sort()])).toEqual([
      ["table", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]],
      ["messagesQueue", ["sqs:GetQueueAttributes", "sqs:SendMessage"]],
      ["deadLetterQueue", ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:StartMessageMoveTask"]],
    ]);
    expect(environmentFor(functions.console, deployed).DEAD_LETTER_QUEUE_URL).toBe(deployed.deadLetterQueueUrl);
    expect(environmentFor(functions.sender, deployed).DEAD_LETTER_QUEUE_URL).toBeUndefined();
  });

  it("gives the webhook signing secrets only to the PassEntry webhook handler", () => {
    expect(keysWith("webhookSecrets")).toEqual(["passEntryWebhook"]);
    expect(keysWithEnv("PASSENTRY_WEBHOOK_SECRETS_SECRET_ID")).toEqual(["passEntryWebhook"]);
  });

  it("gives the Standard Webhooks signing secrets only to the accept handler", () => {
    expect(keysWith("webhookSigningSecrets")).toEqual(["accept"]);
    expect(keysWithEnv("WEBHOOK_SIGNING_SECRETS_SECRET_ID")).toEqual(["accept"]);
  });

  it("passes secrets as Secrets Manager ARNs, never as values", () => {
    const env = environmentFor(functions.sender, deployed, {});

    expect(env.PASSENTRY_TOKEN_SECRET_ID).toBe(deployed.secretArns.passEntryToken);
    for (const spec of Object.values(secrets)) {
      expect(spec.env).toMatch(/_SECRET_ID$/);
    }
  });

  it("gives the health check nothing beyond names", () => {
    expect(functions.health.capabilities).toEqual([]);
    expect(Object.keys(environmentFor(functions.health, deployed, {})).sort()).toEqual(SHARED_ENV);
  });
});

describe("function environment", () => {
  it("sets the config module's shared variables on every function, and a secret id only where granted", () => {
    expect(Object.keys(environmentFor(functions.accept, deployed, {})).sort()).toEqual(
      [...SHARED_ENV, "API_KEYS_SECRET_ID", "WEBHOOK_SIGNING_SECRETS_SECRET_ID"].sort(),
    );
    expect(Object.keys(environmentFor(functions.sender, deployed, {})).sort()).toEqual(
      [...SHARED_ENV, "PASSENTRY_TOKEN_SECRET_ID"].sort(),
    );
    expect(Object.keys(environmentFor(functions.passEntryWebhook, deployed, {})).sort()).toEqual(
      [...SHARED_ENV, "PASSENTRY_WEBHOOK_SECRETS_SECRET_ID"].sort(),
    );
  });

  it("points functions at the deployed queue, table and bus, in the AWS home", () => {
    const env = environmentFor(functions.accept, deployed, {});

    expect(env).toMatchObject({
      WALLET_HOME: "aws",
      MESSAGES_QUEUE_URL: deployed.queueUrl,
      WALLET_TABLE_NAME: deployed.tableName,
      EVENT_BUS_NAME: deployed.busName,
      POWERTOOLS_SERVICE_NAME: "wallet-messaging",
    });
  });

  it("defaults PASSENTRY_BASE_URL to PassEntry and lets the deploying shell override it", () => {
    expect(passEntryBaseUrl({})).toBe("https://api.passentry.com");
    expect(passEntryBaseUrl({ PASSENTRY_BASE_URL: "  " })).toBe("https://api.passentry.com");
    expect(passEntryBaseUrl({ PASSENTRY_BASE_URL: "https://sandbox.example.test/" })).toBe("https://sandbox.example.test");
    expect(environmentFor(functions.sender, deployed, { PASSENTRY_BASE_URL: "https://sandbox.example.test" }).PASSENTRY_BASE_URL).toBe(
      "https://sandbox.example.test",
    );
  });
});

describe("allowed batch keys", () => {
  it("passes ALLOWED_BATCH_KEYS from the deploying shell to the functions, and nothing when it is unset", () => {
    expect(environmentFor(functions.accept, deployed, { ALLOWED_BATCH_KEYS: " priority,locale " }).ALLOWED_BATCH_KEYS).toBe("priority,locale");
    expect(environmentFor(functions.accept, deployed, { ALLOWED_BATCH_KEYS: "  " })).not.toHaveProperty("ALLOWED_BATCH_KEYS");
  });
});

describe("follow-ups and outcome events", () => {
  it("lets only the sender publish outcome events on the bus", () => {
    expect(keysWith("bus")).toEqual(["sender"]);
  });

  it("lets the sender queue its own follow-ups, and the cancel handler queue a cancellation without holding the token", () => {
    expect(functions.sender.capabilities).toContain("queue");
    expect(functions.requestCancel.capabilities).toEqual(expect.arrayContaining(["apiKeys", "table", "queue"]));
    expect(functions.requestCancel.capabilities).not.toContain("passEntryToken");
  });
});

describe("PassEntry rate budget", () => {
  it("paces each sender worker so that all workers together stay at 9 requests per second", () => {
    expect(PASSENTRY_ACCOUNT_RATE_PER_SECOND).toBe(9);
    expect(SENDER_MAX_CONCURRENCY).toBe(2);
    expect(PASSENTRY_RATE_PER_SECOND_PER_WORKER).toBe(4.5);
    expect(senderSubscription.maxConcurrency * PASSENTRY_RATE_PER_SECOND_PER_WORKER).toBeLessThanOrEqual(9);
    expect(environmentFor(functions.sender, deployed, {}).PASSENTRY_RATE_PER_SECOND).toBe("4.5");
  });

  it("uses a maximum concurrency AWS accepts for SQS event source mappings (2 to 1000)", () => {
    expect(senderSubscription.maxConcurrency).toBeGreaterThanOrEqual(2);
    expect(senderSubscription.maxConcurrency).toBeLessThanOrEqual(1000);
  });

  it("lets no other function call PassEntry: only the sender holds the token", () => {
    expect(keysWith("passEntryToken")).toEqual(["sender"]);
  });
});

describe("queues", () => {
  const all = Object.entries(queues) as [keyof typeof queues, QueueSpec][];

  it("gives every queue that is not itself a dead-letter queue a dead-letter queue", () => {
    for (const [key, spec] of all) {
      if (spec.isDeadLetterQueue) continue;
      expect(spec.deadLetter, `${key} has no dead-letter queue`).toBeDefined();
      const target: QueueSpec = queues[spec.deadLetter!.queue];
      expect(target.isDeadLetterQueue, `${key}'s DLQ is not marked as one`).toBe(true);
      expect(target.deadLetter, "a dead-letter queue must not chain to another").toBeUndefined();
    }
  });

  it("retries at least 5 times before dead-lettering, so throttling does not lose good messages", () => {
    expect(queues.messages.deadLetter.retry).toBeGreaterThanOrEqual(5);
  });

  it("keeps dead-lettered messages longer than the source queue does, within SQS's 14 days", () => {
    expect(queues.deadLetter.retentionSeconds).toBeGreaterThan(queues.messages.retentionSeconds);
    expect(queues.deadLetter.retentionSeconds).toBeLessThanOrEqual(14 * 24 * 3600);
  });

  it("holds a message invisible for at least 6x the sender's timeout plus its batching window", () => {
    expect(queues.messages.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(
      6 * functions.sender.timeoutSeconds + senderSubscription.batchWindowSeconds,
    );
  });

  it("has the sender report partial batch failures, with a batch AWS accepts without extra settings", () => {
    expect(senderSubscription.partialResponses).toBe(true);
    expect(senderSubscription.batchSize).toBeGreaterThanOrEqual(1);
    expect(senderSubscription.batchSize).toBeLessThanOrEqual(10);
    expect(senderSubscription.batchWindowSeconds).toBeLessThanOrEqual(300);
  });
});

describe("API throttling", () => {
  it("keeps the sustained rate above PassEntry's budget and the burst above the sustained rate", () => {
    expect(apiThrottling.rateLimit).toBeGreaterThan(PASSENTRY_ACCOUNT_RATE_PER_SECOND);
    expect(apiThrottling.burstLimit).toBeGreaterThanOrEqual(apiThrottling.rateLimit);
  });

  it("lets one caller's burst of 1,000 requests through the stage: the queue, not the door, absorbs bursts", () => {
    expect(apiThrottling.burstLimit).toBeGreaterThanOrEqual(1_000);
  });
});

describe("alarms", () => {
  it("watch the dead-letter queue, sender errors and unknown outcomes above zero, and the backlog's age above 30 minutes", () => {
    const watched = alarms.map((a) => `${a.namespace} ${a.metric} ${a.subject} > ${a.threshold}`);

    expect(watched).toEqual([
      "AWS/SQS ApproximateNumberOfMessagesVisible deadLetterQueue > 0",
      "AWS/Lambda Errors sender > 0",
      "AWS/SQS ApproximateAgeOfOldestMessage messagesQueue > 1800",
      "WalletMessaging UnknownOutcomes none > 0",
    ]);
  });
});

describe("infra sources follow the manifest", () => {
  const sources = infraSources();
  const code = new Map([...sources].map(([file, text]) => [file, stripComments(text)]));
  const allCode = [...code.values()].join("\n");

  it("creates every queue from a manifest entry, and only those", () => {
    const calls = callArguments(allCode, "new sst.aws.Queue(");
    const names = calls.map((args) => /^\s*queues\.(\w+)\.name\s*,/.exec(args)?.[1]);

    expect(names.sort()).toEqual(Object.keys(queues).sort());
  });

  it("attaches the dead-letter queue with the manifest's retry count", () => {
    const [messages] = callArguments(code.get("infra/queue.ts")!, "new sst.aws.Queue(queues.messages.name");

    expect(messages).toMatch(/dlq:\s*\{\s*queue:\s*deadLetterQueue\.arn,\s*retry:\s*queues\.messages\.deadLetter\.retry/);
  });

  it("subscribes the sender with partial responses, the batch and the max concurrency from the manifest", () => {
    const subscriptions = callArguments(allCode, ".subscribe(");

    expect(subscriptions).toHaveLength(1);
    const [args] = subscriptions;
    expect(args).toMatch(/^lambda\(functions\.sender\)/);
    expect(args).toContain("size: senderSubscription.batchSize");
    expect(args).toContain("window: `${senderSubscription.batchWindowSeconds} seconds`");
    expect(args).toContain("partialResponses: senderSubscription.partialResponses");
    expect(args).toMatch(/scalingConfig:\s*\{\s*maximumConcurrency:\s*senderSubscription\.maxConcurrency\s*\}/);
  });

  it("builds functions only through lambda(functions.…): no handler string outside the manifest", () => {
    for (const [file, text] of code) {
      if (file === "infra/manifest.ts") continue;
      expect(text, file).not.toMatch(/["'`]functions\/[^"'`]*["'`]/);
      expect(text, file).not.toContain("new sst.aws.Function(");
    }
    expect(callArguments(allCode, "api.route(")).toEqual(["route, lambda(functions[fn])"]);
  });

  it("grants access by linking, or by a function's declared grants: no other IAM, and both only in the lambda helper", () => {
    // infra/lambda.ts turns the manifest's `grants` (data, checked above) into permissions; nothing else writes IAM.
    expect(code.get("infra/lambda.ts")).toMatch(/permissions: \(spec\.grants \?\? \[\]\)\.map\(/);
    for (const [file, text] of code) {
      if (file !== "infra/lambda.ts") expect(text, file).not.toMatch(/\bpermissions\s*:/);
      expect(text, file).not.toMatch(/\bpolicies\s*:/);
      expect(text, file).not.toMatch(/aws\.iam\./);
      if (file !== "infra/lambda.ts") expect(text, file).not.toMatch(/\blink\s*:/);
    }
  });

  it("adds no second queue policy next to the one bus.subscribeQueue writes", () => {
    expect(allCode).not.toContain("QueuePolicy");
    expect(code.get("infra/bus.ts")).toMatch(/subscribeQueue\([^)]*queue,\s*\{\s*pattern:\s*\{\s*detailType:\s*\[spec\.requestDetailType\]/);
  });

  it("reaches every infra module from sst.config.ts", () => {
    const reached = new Set<string>();
    const visit = (file: string, text: string) => {
      for (const relative of importsOf(text)) {
        const target = path.posix.join(path.posix.dirname(file), relative).replace(/\.js$/, ".ts");
        if (reached.has(target) || !sources.has(target)) continue;
        reached.add(target);
        visit(target, sources.get(target)!);
      }
    };
    visit("sst.config.ts", readProjectFile("sst.config.ts"));

    expect([...reached].sort()).toEqual([...sources.keys()].sort());
  });
});
