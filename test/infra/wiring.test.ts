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
  functionAlarms,
  functionName,
  functions,
  PASSENTRY_ACCOUNT_RATE_PER_SECOND,
  PASSENTRY_RATE_PER_SECOND_PER_WORKER,
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

const stage = { stage: "test", passEntryBaseUrl: "https://api.passentry.com" };
const allFunctions = Object.entries(functions) as [FunctionKey, FunctionSpec][];
const keysWith = (grantable: string) =>
  allFunctions
    .filter(([, spec]) => grantable in spec.access)
    .map(([key]) => key)
    .sort();
const keysWithEnv = (name: string) =>
  allFunctions
    .filter(([, spec]) => name in environmentFor(spec, deployed, stage))
    .map(([key]) => key)
    .sort();
const actionsOf = (key: FunctionKey) =>
  Object.values(functions[key].access as FunctionSpec["access"]).flatMap((actions) => [...(actions ?? [])]);

const SHARED_ENV = [
  "EVENT_BUS_NAME",
  "MESSAGES_QUEUE_URL",
  "PASSENTRY_BASE_URL",
  "PASSENTRY_RATE_PER_SECOND",
  "POWERTOOLS_SERVICE_NAME",
  "SEND_LEASE_MS",
  "WALLET_HOME",
  "WALLET_STAGE",
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
    expect(keysWith("apiKeys")).toEqual([
      "accept",
      "console",
      "requestCancel",
      "requestList",
      "requestResolve",
      "requestStatus",
    ]);
    expect(keysWithEnv("API_KEYS_SECRET_ID")).toEqual([
      "accept",
      "console",
      "requestCancel",
      "requestList",
      "requestResolve",
      "requestStatus",
    ]);
  });

  it("builds a function several routes share (the console) once: function names are fixed, a second one of the same name would fail the deploy", () => {
    const api = readProjectFile("infra/api.ts");
    expect(routes.filter((r) => r.fn === "console").length).toBeGreaterThan(1);
    expect(api).toContain("new sst.aws.Function(functions[fn].name, lambda(functions[fn]))");
    expect(api).toContain("api.route(route, built.arn)");
  });

  it("gives the console only the actions its pages and its two actions call, and no token", () => {
    const access = functions.console.access as FunctionSpec["access"];
    expect(
      Object.fromEntries(Object.entries(access).map(([on, actions]) => [on, [...(actions ?? [])].sort()])),
    ).toEqual({
      apiKeys: ["secretsmanager:GetSecretValue"],
      table: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
      requestListIndex: ["dynamodb:Query"],
      messagesQueue: ["sqs:GetQueueAttributes", "sqs:SendMessage"],
      deadLetterQueue: [
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
        "sqs:StartMessageMoveTask",
      ],
    });
    expect(environmentFor(functions.console, deployed, stage).DEAD_LETTER_QUEUE_URL).toBe(deployed.deadLetterQueueUrl);
    expect(keysWithEnv("DEAD_LETTER_QUEUE_URL")).toEqual(["console"]);
  });

  it("lets the list function only Query the list index: no read of the table itself", () => {
    expect(functions.requestList.access).toEqual({
      apiKeys: ["secretsmanager:GetSecretValue"],
      requestListIndex: ["dynamodb:Query"],
      requestCallerIndex: ["dynamodb:Query"],
    });
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
    const env = environmentFor(functions.sender, deployed, stage);

    expect(env.PASSENTRY_TOKEN_SECRET_ID).toBe(deployed.secretArns.passEntryToken);
    for (const spec of Object.values(secrets)) {
      expect(spec.env).toMatch(/_SECRET_ID$/);
    }
  });

  it("gives the health check nothing beyond names", () => {
    expect(functions.health.access).toEqual({});
    expect(Object.keys(environmentFor(functions.health, deployed, stage)).sort()).toEqual(SHARED_ENV);
  });
});

describe("function environment", () => {
  it("sets the config module's shared variables on every function, and a secret id only where granted", () => {
    expect(Object.keys(environmentFor(functions.accept, deployed, stage)).sort()).toEqual(
      [...SHARED_ENV, "API_KEYS_SECRET_ID", "WEBHOOK_SIGNING_SECRETS_SECRET_ID"].sort(),
    );
    expect(Object.keys(environmentFor(functions.sender, deployed, stage)).sort()).toEqual(
      [...SHARED_ENV, "PASSENTRY_TOKEN_SECRET_ID"].sort(),
    );
    expect(Object.keys(environmentFor(functions.passEntryWebhook, deployed, stage)).sort()).toEqual(
      [...SHARED_ENV, "PASSENTRY_WEBHOOK_SECRETS_SECRET_ID"].sort(),
    );
  });

  it("points functions at the deployed queue, table and bus, in the AWS home", () => {
    const env = environmentFor(functions.accept, deployed, stage);

    expect(env).toMatchObject({
      WALLET_HOME: "aws",
      MESSAGES_QUEUE_URL: deployed.queueUrl,
      WALLET_TABLE_NAME: deployed.tableName,
      EVENT_BUS_NAME: deployed.busName,
      POWERTOOLS_SERVICE_NAME: "wallet-messaging",
    });
  });

  it("takes PASSENTRY_BASE_URL and the stage from the stage's settings, never from the deploying shell", () => {
    const env = environmentFor(functions.sender, deployed, {
      stage: "sandbox",
      passEntryBaseUrl: "https://sandbox.example.test",
    });

    expect(env.PASSENTRY_BASE_URL).toBe("https://sandbox.example.test");
    expect(env.WALLET_STAGE).toBe("sandbox");
  });
});

describe("allowed batch keys", () => {
  it("passes the stage's allowedBatchKeys (stages.json) to the functions as ALLOWED_BATCH_KEYS, and nothing when it has none", () => {
    expect(
      environmentFor(functions.accept, deployed, { ...stage, allowedBatchKeys: ["priority", "locale"] })
        .ALLOWED_BATCH_KEYS,
    ).toBe("priority,locale");
    expect(environmentFor(functions.accept, deployed, { ...stage, allowedBatchKeys: [] })).not.toHaveProperty(
      "ALLOWED_BATCH_KEYS",
    );
    expect(environmentFor(functions.accept, deployed, stage)).not.toHaveProperty("ALLOWED_BATCH_KEYS");
  });
});

describe("follow-ups and outcome events", () => {
  it("lets only the sender publish outcome events on the bus", () => {
    expect(keysWith("walletBus")).toEqual(["sender"]);
  });

  it("lets the sender queue its own follow-ups, and the cancel handler queue a cancellation without holding the token", () => {
    expect(functions.sender.access.messagesQueue).toContain("sqs:SendMessage");
    expect(functions.requestCancel.access.messagesQueue).toEqual(["sqs:SendMessage"]);
    expect(functions.requestCancel.access).not.toHaveProperty("passEntryToken");
  });
});

describe("PassEntry rate budget", () => {
  it("paces each sender worker so that all workers together stay at 9 requests per second", () => {
    expect(PASSENTRY_ACCOUNT_RATE_PER_SECOND).toBe(9);
    expect(SENDER_MAX_CONCURRENCY).toBe(2);
    expect(PASSENTRY_RATE_PER_SECOND_PER_WORKER).toBe(4.5);
    expect(senderSubscription.maxConcurrency * PASSENTRY_RATE_PER_SECOND_PER_WORKER).toBeLessThanOrEqual(9);
    expect(environmentFor(functions.sender, deployed, stage).PASSENTRY_RATE_PER_SECOND).toBe("4.5");
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

  it("has the sender report partial batch failures, with a batch AWS accepts (above 10 records only with a window of 1 s or more)", () => {
    expect(senderSubscription.partialResponses).toBe(true);
    expect(senderSubscription.batchSize).toBeGreaterThanOrEqual(1);
    expect(senderSubscription.batchSize).toBeLessThanOrEqual(10_000);
    if (senderSubscription.batchSize > 10) expect(senderSubscription.batchWindowSeconds).toBeGreaterThanOrEqual(1);
    expect(senderSubscription.batchWindowSeconds).toBeLessThanOrEqual(300);
  });

  it("takes no more requests per invocation than it can send one by one within its timeout (a hand-back costs a receive)", () => {
    const perWorkerPerSecond = PASSENTRY_ACCOUNT_RATE_PER_SECOND / senderSubscription.maxConcurrency;
    expect(senderSubscription.batchSize / perWorkerPerSecond).toBeLessThan(functions.sender.timeoutSeconds * 0.5);
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

describe("least privilege in the manifest", () => {
  it("spells out every action: no wildcard, and nothing that deletes, purges or reconfigures", () => {
    for (const [key] of allFunctions) {
      for (const action of actionsOf(key)) {
        expect(action, key).toMatch(/^[a-z0-9]+:[A-Za-z]+$/);
        expect(action, key).not.toMatch(
          /Delete(Item|Table|Queue)|Purge|BatchWrite|Create(Table|Queue)|SetQueueAttributes|PutSecretValue|Update(Table|Secret)$/,
        );
      }
    }
  });

  it("keeps the status function read-only", () => {
    expect(functions.requestStatus.access).toEqual({
      apiKeys: ["secretsmanager:GetSecretValue"],
      table: ["dynamodb:GetItem", "dynamodb:Query"],
    });
  });

  it("lets no function but the sender receive, delete or re-time MessagesQueue's messages, and only the console touch the dead-letter queue", () => {
    for (const [key, spec] of allFunctions.filter(([k]) => k !== "sender")) {
      // The console reads the queue's counts; nobody else but the sender does more than send.
      const readOnly = key === "console" ? ["sqs:SendMessage", "sqs:GetQueueAttributes"] : ["sqs:SendMessage"];
      expect(
        (spec.access.messagesQueue ?? []).filter((a) => !readOnly.includes(a)),
        key,
      ).toEqual([]);
      expect(
        (spec.access.promotionFailuresQueue ?? []).filter((a) => a !== "sqs:SendMessage"),
        key,
      ).toEqual([]);
    }
    // Peeking, and SQS's message-move task back to MessagesQueue (receive and delete on its source): never a purge.
    expect(keysWith("deadLetterQueue")).toEqual(["console"]);
    expect([...functions.console.access.deadLetterQueue].sort()).toEqual([
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
      "sqs:StartMessageMoveTask",
    ]);
  });
});

describe("alarms", () => {
  it("watch every way a message can stall: dead letters, the backlog's age, bus and promotion failures, API 5xx and unknown outcomes", () => {
    const watched = alarms.map((a) => `${a.namespace} ${a.metric} ${a.subject} > ${a.threshold}`);

    expect(watched).toEqual([
      "AWS/SQS ApproximateNumberOfMessagesVisible deadLetterQueue > 0",
      "AWS/SQS ApproximateAgeOfOldestMessage messagesQueue > 1800",
      "AWS/SQS ApproximateNumberOfMessagesVisible busDeadLetterQueue > 0",
      "AWS/SQS ApproximateNumberOfMessagesVisible promotionFailuresQueue > 0",
      "AWS/ApiGateway 5xx api > 0",
      "WalletMessaging UnknownOutcomes stage > 0",
    ]);
  });

  it("give every function an errors and a throttles alarm", () => {
    expect(functionAlarms("Sender").map((a) => `${a.name}: ${a.namespace} ${a.metric} > ${a.threshold}`)).toEqual([
      "SenderErrors: AWS/Lambda Errors > 0",
      "SenderThrottles: AWS/Lambda Throttles > 0",
    ]);
  });

  it("say why each threshold is what it is", () => {
    for (const alarm of [...alarms, ...functionAlarms("Any")])
      expect(alarm.thresholdReason.length, alarm.name).toBeGreaterThan(40);
  });

  it("keep an SQS alarm's period at SQS's 5-minute publishing interval", () => {
    for (const alarm of alarms.filter((a) => a.namespace === "AWS/SQS")) expect(alarm.periodSeconds).toBe(300);
  });
});

describe("function names", () => {
  it("are service, stage and component, within Lambda's 64 characters", () => {
    expect(functionName("production", "Sender")).toBe("wallet-messaging-production-Sender");
    expect(() => functionName("a-very-long-stage-name", "PromotionNewYorkWeekendBrunchExtra")).toThrow(
      /Lambda allows 64/,
    );
  });
});

describe("infra sources follow the manifest", () => {
  const sources = infraSources();
  const code = new Map([...sources].map(([file, text]) => [file, stripComments(text)]));
  const allCode = [...code.values()].join("\n");

  it("creates every queue from a manifest entry, and only those", () => {
    const queueFile = code.get("infra/queue.ts")!;
    const failureQueues = [...queueFile.matchAll(/= failureQueue\(queues\.(\w+)\)/g)].map((m) => m[1]);
    const [messages, ...others] = callArguments(allCode, "new sst.aws.Queue(").filter(
      (args) => !args.startsWith("spec.name"),
    );

    expect(others).toEqual([]);
    expect(messages).toMatch(/^queues\.messages\.name,/);
    expect([...failureQueues, "messages"].sort()).toEqual(Object.keys(queues).sort());
  });

  it("attaches the dead-letter queue with the manifest's retry count", () => {
    const [messages] = callArguments(code.get("infra/queue.ts")!, "new sst.aws.Queue(queues.messages.name");

    expect(messages).toMatch(
      /dlq:\s*\{\s*queue:\s*deadLetterQueue\.arn,\s*retry:\s*queues\.messages\.deadLetter\.retry/,
    );
  });

  it("subscribes the sender with partial responses, the batch and the max concurrency from the manifest", () => {
    const subscriptions = callArguments(allCode, ".subscribe(");

    expect(subscriptions).toHaveLength(1);
    const [args] = subscriptions;
    expect(args).toMatch(/^senderArgs,/);
    expect(code.get("infra/sender.ts")).toContain("const senderArgs = lambda(functions.sender);");
    expect(args).toContain("args.permissions = senderArgs.permissions;");
    expect(args).toContain("size: senderSubscription.batchSize");
    // The infra source's own template literal, as text.
    expect(args).toContain("window: `$" + "{senderSubscription.batchWindowSeconds} seconds`");
    expect(args).toContain("partialResponses: senderSubscription.partialResponses");
    expect(args).toMatch(/scalingConfig:\s*\{\s*maximumConcurrency:\s*senderSubscription\.maxConcurrency\s*\}/);
  });

  it("builds functions only through lambda(functions.…): no handler string outside the manifest", () => {
    for (const [file, text] of code) {
      if (file === "infra/manifest.ts") continue;
      expect(text, file).not.toMatch(/["'`]functions\/[^"'`]*["'`]/);
      // The one Function built outside a route or subscription: a function several routes share (the console), from the manifest.
      if (file !== "infra/api.ts") expect(text, file).not.toContain("new sst.aws.Function(");
    }
    expect(callArguments(allCode, "new sst.aws.Function(")).toEqual(["functions[fn].name, lambda(functions[fn])"]);
    expect(callArguments(allCode, "api.route(")).toEqual(["route, lambda(functions[fn])", "route, built.arn"]);
  });

  it("grants access only through the manifest's lists: no link, no IAM resource, permissions only in the lambda helper", () => {
    for (const [file, text] of code) {
      expect(text, file).not.toMatch(/\blink\s*:/);
      expect(text, file).not.toMatch(/\bpolicies\s*:/);
      expect(text, file).not.toMatch(/aws\.iam\./);
      expect(text, file).not.toContain("sst.Linkable");
      if (file !== "infra/lambda.ts") expect(text, file).not.toMatch(/\bpermissions\s*:/);
    }
  });

  it("writes the bus rule, its target and the queue policies itself: no subscribeQueue, whose policy has no condition", () => {
    expect(allCode).not.toContain("subscribeQueue(");
    expect(callArguments(code.get("infra/bus.ts")!, "new aws.sqs.QueuePolicy(")).toHaveLength(1);
    expect(allCode.split("new aws.sqs.QueuePolicy(").length - 1).toBe(1);
    expect(code.get("infra/bus.ts")).toContain("busTargetQueuePolicy(queueArn, ruleArn)");
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
