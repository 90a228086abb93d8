/**
 * Builders for the events our handlers receive, each starting from a real-shaped fixture under
 * test/fixtures/events/ and changing only what a test names, so every test event looks like what
 * API Gateway (HTTP API, payload v2) and SQS actually deliver.
 *
 * @example
 *   const event = triggerEvent({ body: { batch: { message: "Hi", segments: [{ groupTag: "vip" }] } } });
 *   const records = sqsEvent([sendRequestMessage(), "not json"]);
 */
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { APIGatewayProxyEventV2, SQSEvent, SQSRecord } from "aws-lambda";
import { expect } from "vitest";

const FIXTURES = new URL("../fixtures/events/", import.meta.url);

/** A fresh copy of a fixture, so a test may change it freely. */
export function loadFixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), "utf8")) as T;
}

/** The API key (and its name) the trigger fixtures carry; the harness configures it. */
export const FIXTURE_API_KEY_NAME = "crm";
export const FIXTURE_API_KEY = "crm-test-key-0001";
export const FIXTURE_ENTITY_ID = "ent_4f1c2a9e";

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** PassEntry's documented example request body, as its API reference gives it (frozen: use exampleBody() to change it). */
export const PASSENTRY_EXAMPLE_BODY = deepFreeze({
  batch: { message: "Hello, World!", segments: [{ groupTag: "summerPromotion" }], scheduledAt: "2030-03-31T13:16:26Z" },
});

/** A deep copy of PassEntry's example, to modify in a test. */
export function exampleBody(): { batch: Record<string, unknown> } {
  return structuredClone(PASSENTRY_EXAMPLE_BODY);
}

export interface TriggerEventOptions {
  /** A value to send as JSON; ignored when `rawBody` is given. Default: the fixture's body (PassEntry's example). */
  body?: unknown;
  /** The body text exactly as sent (malformed JSON, huge bodies). */
  rawBody?: string;
  /** Deliver the body base64-encoded, as API Gateway does for non-text content types. */
  base64?: boolean;
  /** Header overrides; `undefined` removes a header (e.g. `{ authorization: undefined }`). */
  headers?: Record<string, string | undefined>;
  entityId?: string;
}

/** POST /api/v1/entities/{entityId}/messaging/wallet, from api-gateway-v2-trigger.json. */
export function triggerEvent(options: TriggerEventOptions = {}): APIGatewayProxyEventV2 {
  const event = loadFixture<APIGatewayProxyEventV2>("api-gateway-v2-trigger.json");
  event.requestContext.requestId = randomUUID();
  if (options.entityId !== undefined) {
    const path = `/api/v1/entities/${encodeURIComponent(options.entityId)}/messaging/wallet`;
    event.pathParameters = { entityId: options.entityId };
    event.rawPath = path;
    event.requestContext.http.path = path;
  }
  let text = event.body ?? "";
  if (options.rawBody !== undefined) text = options.rawBody;
  else if (options.body !== undefined) text = JSON.stringify(options.body);
  const bytes = Buffer.from(text, "utf8");
  event.body = options.base64 ? bytes.toString("base64") : text;
  event.isBase64Encoded = options.base64 === true;
  event.headers = applyHeaders({ ...event.headers, "content-length": String(bytes.length) }, options.headers);
  return event;
}

/** GET /api/v1/requests/{requestId}, from api-gateway-v2-request-status.json. */
export function requestStatusEvent(
  requestId: string,
  options: { headers?: Record<string, string | undefined> } = {},
): APIGatewayProxyEventV2 {
  const event = loadFixture<APIGatewayProxyEventV2>("api-gateway-v2-request-status.json");
  const path = `/api/v1/requests/${encodeURIComponent(requestId)}`;
  event.requestContext.requestId = randomUUID();
  event.pathParameters = { requestId };
  event.rawPath = path;
  event.requestContext.http.path = path;
  event.headers = applyHeaders(event.headers, options.headers);
  return event;
}

/** DELETE /api/v1/requests/{requestId}, from api-gateway-v2-request-cancel.json. */
export function requestCancelEvent(
  requestId: string,
  options: { headers?: Record<string, string | undefined> } = {},
): APIGatewayProxyEventV2 {
  const event = loadFixture<APIGatewayProxyEventV2>("api-gateway-v2-request-cancel.json");
  const path = `/api/v1/requests/${encodeURIComponent(requestId)}`;
  event.requestContext.requestId = randomUUID();
  event.pathParameters = { requestId };
  event.rawPath = path;
  event.requestContext.http.path = path;
  event.headers = applyHeaders(event.headers, options.headers);
  return event;
}

function applyHeaders(
  base: APIGatewayProxyEventV2["headers"],
  overrides: Record<string, string | undefined> = {},
): APIGatewayProxyEventV2["headers"] {
  const headers: Record<string, string | undefined> = { ...base };
  for (const [name, value] of Object.entries(overrides)) {
    const key = name.toLowerCase();
    if (value === undefined) delete headers[key];
    else headers[key] = value;
  }
  return headers;
}

// ---------------------------------------------------------------------------------------------
// SQS

export interface SqsRecordOptions {
  messageId?: string;
  receiveCount?: number;
}

/** One SQS record carrying `body` (a string as is, anything else as JSON), shaped like sqs-send-request.json. */
export function sqsRecord(body: unknown, options: SqsRecordOptions = {}): SQSRecord {
  const template = loadFixture<SQSEvent>("sqs-send-request.json").Records[0]!;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const messageId = options.messageId ?? randomUUID();
  return {
    ...template,
    messageId,
    receiptHandle: `${template.receiptHandle.slice(0, 40)}${messageId}`,
    body: text,
    md5OfBody: createHash("md5").update(text).digest("hex"),
    attributes: { ...template.attributes, ApproximateReceiveCount: String(options.receiveCount ?? 1) },
  };
}

/** An SQS event with one record per body (or per ready-made record). */
export function sqsEvent(bodies: (unknown | SQSRecord)[]): SQSEvent {
  return { Records: bodies.map((b) => (isSqsRecord(b) ? b : sqsRecord(b))) };
}

function isSqsRecord(value: unknown): value is SQSRecord {
  return (
    typeof value === "object" &&
    value !== null &&
    "eventSource" in value &&
    (value as SQSRecord).eventSource === "aws:sqs"
  );
}

/** The queue message our accept handler would have sent for PassEntry's example (from sqs-send-request.json), with overrides. */
export function sendRequestMessage(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const fixture = loadFixture<SQSEvent>("sqs-send-request.json");
  const message = JSON.parse(fixture.Records[0]!.body) as Record<string, unknown>;
  return { ...message, requestId: `req-${randomUUID()}`, ...overrides };
}

/** An EventBridge `WalletMessageRequested` event as EventBridge puts it on the queue (from sqs-eventbridge-envelope.json). */
export function eventBridgeEnvelope(
  options: { id?: string; detail?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const fixture = loadFixture<SQSEvent>("sqs-eventbridge-envelope.json");
  const envelope = JSON.parse(fixture.Records[0]!.body) as Record<string, unknown>;
  return { ...envelope, id: options.id ?? randomUUID(), ...(options.detail ? { detail: options.detail } : {}) };
}

/**
 * Matches the name we give a part's batch at PassEntry: our marker (request id, chunk, POST time)
 * first, then the caller's name.
 *
 * @example expect(batch.name).toEqual(markedName(requestId)); // "[wm:<id>:0:lkfuqo00] Wallet message"
 */
export function markedName(requestId: string, chunk = 0, name = "Wallet message") {
  const escaped = requestId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return expect.stringMatching(
    new RegExp(`^\\[wm:${escaped}:${chunk}:[0-9a-z]+\\] ${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`),
  );
}
