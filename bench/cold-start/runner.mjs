// Runs in a FRESH `node` process (plain JavaScript, no loader, so nothing but Node's own start-up
// precedes the handler): builds one real-shaped event, then imports the bundled handler and calls
// it once, like Lambda's init + first invoke. Prints one line: `@@bench {json}`.
//
//   node runner.mjs <bundle.mjs> <event kind> [cost <batches> <records per batch>]
//
// In `cost` mode the first (cold) invocation is followed by one uncounted warm batch and then
// <batches> warm ones of <records> SQS records each; their CPU and wall time are reported per record.
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

const [bundlePath, kind, mode, batchesArg, recordsArg] = process.argv.slice(2);
const FIXTURES = new URL("../../test/fixtures/events/", import.meta.url);
const fixture = (name) => JSON.parse(readFileSync(new URL(name, FIXTURES), "utf8"));

function httpEvent(name, changes = {}) {
  const event = fixture(name);
  event.requestContext.requestId = randomUUID();
  event.requestContext.timeEpoch = Date.now();
  Object.assign(event, changes);
  return event;
}

function sqsEvent(count) {
  const template = fixture("sqs-send-request.json").Records[0];
  const body = JSON.parse(template.body);
  return {
    Records: Array.from({ length: count }, () => {
      const requestId = randomUUID();
      return {
        ...template,
        messageId: randomUUID(),
        body: JSON.stringify({ ...body, requestId, acceptedAt: new Date().toISOString() }),
      };
    }),
  };
}

/** A PassEntry webhook (pass installed) signed as PassEntry signs it: hex HMAC-SHA256 of the body in X-Webhook-Signature. */
function webhookEvent() {
  const secret = process.env.BENCH_PASSENTRY_WEBHOOK_SECRET ?? "";
  const passId = randomUUID();
  const body = JSON.stringify({
    data: {
      id: randomUUID(),
      type: "webhook",
      attributes: { timeStamp: new Date().toISOString(), webhookType: "passInstalled" },
      relationships: { pass: { data: { id: passId, type: "pass" } } },
    },
    included: [
      {
        id: passId,
        type: "pass",
        attributes: { extId: "member-1001", passTemplateUuid: randomUUID(), passContent: { fullName: "Jane Smith" } },
      },
    ],
  });
  const event = httpEvent("api-gateway-v2-trigger.json", {
    routeKey: "POST /webhooks/passentry",
    rawPath: "/webhooks/passentry",
    pathParameters: undefined,
    body,
  });
  event.requestContext.http.path = "/webhooks/passentry";
  event.requestContext.routeKey = event.routeKey;
  const { authorization: _none, ...headers } = event.headers;
  event.headers = {
    ...headers,
    "user-agent": "PassEntry-Webhooks",
    "content-length": String(Buffer.byteLength(body)),
    "x-webhook-signature": createHmac("sha256", secret).update(body).digest("hex"),
  };
  return event;
}

function buildEvent(kind) {
  switch (kind) {
    case "accept":
      return httpEvent("api-gateway-v2-trigger.json");
    case "requestStatus":
      return httpEvent("api-gateway-v2-request-status.json");
    case "requestCancel": {
      // A request of its own each run (the bench seeds it), so every run really cancels something.
      const event = httpEvent("api-gateway-v2-request-cancel.json");
      const requestId = process.env.BENCH_REQUEST_ID ?? event.pathParameters.requestId;
      event.pathParameters = { requestId };
      event.rawPath = event.requestContext.http.path = `/api/v1/requests/${requestId}`;
      return event;
    }
    case "health": {
      const event = httpEvent("api-gateway-v2-request-status.json", {
        routeKey: "GET /health",
        rawPath: "/health",
        pathParameters: undefined,
      });
      event.requestContext.http.path = "/health";
      event.requestContext.routeKey = event.routeKey;
      delete event.headers.authorization;
      return event;
    }
    case "sender":
      return sqsEvent(1);
    case "passEntryWebhook":
      return webhookEvent();
    case "planner":
      // What EventBridge Scheduler delivers for one promotion (infra/schedules.ts).
      // The bench picks a trigger that owns a real occurrence, a different one each run.
      return {
        ...fixture("scheduler-promotion-trigger.json"),
        ...(process.env.BENCH_PLANNER_EVENT ? JSON.parse(process.env.BENCH_PLANNER_EVENT) : {}),
      };
    default:
      // A handler this runner has no fixture for (e.g. a scheduled planner): EventBridge's scheduled event.
      return {
        version: "0",
        id: randomUUID(),
        "detail-type": "Scheduled Event",
        source: "aws.events",
        account: "123456789012",
        time: new Date().toISOString(),
        region: "eu-west-2",
        resources: [],
        detail: {},
      };
  }
}

function lambdaContext(timeoutSeconds) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? "bench",
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:eu-west-2:123456789012:function:${process.env.AWS_LAMBDA_FUNCTION_NAME ?? "bench"}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "512",
    awsRequestId: randomUUID(),
    logGroupName: "/aws/lambda/bench",
    logStreamName: "bench",
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done() {},
    fail() {},
    succeed() {},
  };
}

function summarise(answer) {
  if (answer && typeof answer === "object" && "statusCode" in answer) return { statusCode: answer.statusCode };
  if (answer && typeof answer === "object" && Array.isArray(answer.batchItemFailures))
    return { batchItemFailures: answer.batchItemFailures.length };
  if (answer && typeof answer === "object" && typeof answer.status === "string") {
    return { status: answer.status, queued: (answer.occurrences ?? []).filter((o) => o.outcome === "queued").length };
  }
  return { answer: typeof answer };
}

const timeoutSeconds = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 10);
const event = buildEvent(kind);
const startedAt = performance.now();
const module = await import(pathToFileURL(bundlePath).href);
const importedAt = performance.now();
const answer = await module.handler(event, lambdaContext(timeoutSeconds));
const answeredAt = performance.now();

const result = {
  // ms since this process began (Node's own boot included): what a cold start costs.
  totalMs: answeredAt,
  importMs: importedAt - startedAt,
  invokeMs: answeredAt - importedAt,
  rssMb: process.memoryUsage().rss / 2 ** 20,
  maxRssMb: process.resourceUsage().maxRSS / 1024,
  ...summarise(answer),
};

if (mode === "cost") {
  const batches = Number(batchesArg);
  const records = Number(recordsArg);
  // One uncounted warm batch first: the JIT and the SDK's lazily built pieces settle before measuring.
  await module.handler(sqsEvent(records), lambdaContext(timeoutSeconds));
  const events = Array.from({ length: batches }, () => sqsEvent(records));
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  let failures = 0;
  for (const warm of events)
    failures += (await module.handler(warm, lambdaContext(timeoutSeconds))).batchItemFailures.length;
  const cpu = process.cpuUsage(cpuBefore);
  const messages = batches * records;
  result.cost = {
    messages,
    failures,
    cpuMsPerMessage: (cpu.user + cpu.system) / 1000 / messages,
    wallMsPerMessage: (performance.now() - wallBefore) / messages,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

process.stdout.write(`\n@@bench ${JSON.stringify(result)}\n`);
// SDK keep-alive sockets would hold the process open; Lambda freezes it instead.
process.exit(0);
