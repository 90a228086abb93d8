/**
 * Builders for signed inbound requests, shared by the webhook unit tests and the security suites.
 *
 * Signatures are computed here with node:crypto over the exact bytes, independently of the
 * `standardwebhooks` package the code under test uses, so a test that passes means two
 * implementations agree (and the published test vector pins both).
 *
 * @example
 *   const headers = standardWebhookHeaders(SHOP_SIGNING_SECRET, "msg_1", nowSeconds(), body);
 *   const event = passEntryWebhookEvent({ body: passInstalled(), secret: PASSENTRY_WEBHOOK_SECRET });
 */
import { createHmac, randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { openSqlite, type SqliteDatabase } from "../../functions/adapters/sqlite-database.js";
import { SqliteMessageQueue } from "../../functions/adapters/sqlite-message-queue.js";
import { SqliteRequestStore } from "../../functions/adapters/sqlite-request-store.js";
import { StaticSecretStore } from "../../functions/adapters/static-secret-store.js";
import type { Automation } from "../../functions/core/automations.js";
import type { SecretName } from "../../functions/core/ports.js";
import { composeAccept, composePassEntryWebhook } from "../../functions/composition.js";
import type { AcceptHandlerDeps, PassEntryWebhookDeps } from "../../functions/handler-deps.js";
import { loadFixture } from "../support/events.js";
import { FlakyQueue } from "../support/harness.js";

/** The Standard Webhooks specification's published test vector. */
export const STANDARD_WEBHOOKS_VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
} as const;

/** A shop that signs its webhooks; 24 random-looking bytes, as Standard Webhooks senders issue. */
export const SHOP_SIGNER = "shop";
export const SHOP_SIGNING_SECRET = `whsec_${Buffer.from("shop-signing-secret-0001").toString("base64")}`;
/** A second signer, to tell names apart. */
export const CRM_SIGNER = "crm-signer";
export const CRM_SIGNING_SECRET = `whsec_${Buffer.from("crm-signing-secret-00002").toString("base64")}`;
/** As WEBHOOK_SIGNING_SECRETS takes them. */
export const SIGNING_SECRETS = `${SHOP_SIGNER}:${SHOP_SIGNING_SECRET},${CRM_SIGNER}:${CRM_SIGNING_SECRET}`;

/** PassEntry's subscription secrets: the current one and the one being rotated in. */
export const PASSENTRY_WEBHOOK_SECRET = "pe-webhook-secret-current-0001";
export const PASSENTRY_WEBHOOK_SECRET_NEXT = "pe-webhook-secret-next-0002";

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** `v1,<base64 HMAC-SHA256>` over `id.timestamp.body`, keyed with the secret's base64 bytes. */
export function standardWebhookSignature(secret: string, id: string, timestamp: number, body: string | Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const mac = createHmac("sha256", key)
    .update(`${id}.${timestamp}.`)
    .update(typeof body === "string" ? Buffer.from(body, "utf8") : body)
    .digest("base64");
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers for a body. */
export function standardWebhookHeaders(
  secret: string,
  id: string,
  timestamp: number,
  body: string | Buffer,
): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": standardWebhookSignature(secret, id, timestamp, body),
  };
}

/** PassEntry's `X-Webhook-Signature`: HMAC-SHA256 of the raw body. */
export function passEntrySignature(
  secret: string,
  body: string | Buffer,
  encoding: "hex" | "base64" | "base64url" = "hex",
): string {
  return createHmac("sha256", secret).update(body).digest(encoding);
}

export interface PassEntryEventOptions {
  id?: string;
  type?: string;
  timeStamp?: string;
  passId?: string;
  extId?: string;
  passTemplateUuid?: string;
  passContent?: Record<string, unknown>;
}

export const WELCOME_TEMPLATE_UUID = "0b6d8f6e-6c8a-4a43-9d1e-7f2f3b1a2c4d";

/** A PassEntry webhook body shaped like the documented example (shared/passentry-api.md). */
export function passEntryEventBody(options: PassEntryEventOptions = {}): Record<string, unknown> {
  const passId = options.passId ?? randomUUID();
  return {
    data: {
      id: options.id ?? randomUUID(),
      type: "webhook",
      attributes: {
        timeStamp: options.timeStamp ?? new Date().toISOString(),
        webhookType: options.type ?? "passInstalled",
      },
      relationships: { pass: { data: { id: passId, type: "pass" } } },
    },
    included: [
      {
        id: passId,
        type: "pass",
        attributes: {
          extId: options.extId ?? "member-1001",
          passTemplateUuid: options.passTemplateUuid ?? WELCOME_TEMPLATE_UUID,
          passContent: options.passContent ?? { fullName: "Jane Smith" },
        },
      },
    ],
  };
}

export interface WebhookEventOptions {
  /** A value sent as JSON, or the exact text/bytes. */
  body: unknown;
  /** Signs the body with this secret; omit to send no signature. */
  secret?: string;
  /** Header overrides; `undefined` removes one. */
  headers?: Record<string, string | undefined>;
  base64?: boolean;
}

/** POST /webhooks/passentry as API Gateway (HTTP API, payload v2) delivers it, from the trigger fixture's shape. */
export function passEntryWebhookEvent(options: WebhookEventOptions): APIGatewayProxyEventV2 {
  const event = loadFixture<APIGatewayProxyEventV2>("api-gateway-v2-trigger.json");
  const bytes = Buffer.isBuffer(options.body)
    ? options.body
    : Buffer.from(typeof options.body === "string" ? options.body : JSON.stringify(options.body), "utf8");
  event.routeKey = "POST /webhooks/passentry";
  event.requestContext.routeKey = "POST /webhooks/passentry";
  event.rawPath = "/webhooks/passentry";
  event.requestContext.http.path = "/webhooks/passentry";
  event.requestContext.requestId = randomUUID();
  event.pathParameters = undefined;
  const headers: Record<string, string | undefined> = {
    ...Object.fromEntries(
      Object.entries(event.headers).filter(([name]) => !["authorization", "idempotency-key"].includes(name)),
    ),
    "content-type": "application/json",
    "user-agent": "PassEntry-Webhooks",
    "content-length": String(bytes.length),
    ...(options.secret ? { "x-webhook-signature": passEntrySignature(options.secret, bytes) } : {}),
  };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === undefined) delete headers[name.toLowerCase()];
    else headers[name.toLowerCase()] = value;
  }
  event.headers = headers;
  event.body = options.base64 ? bytes.toString("base64") : bytes.toString("utf8");
  event.isBase64Encoded = options.base64 === true;
  return event;
}

// ---------------------------------------------------------------------------------------------
// Handlers over real adapters (SQLite in memory), without HTTP.

/** "Now" for handler tests: the event times and scheduledAt checks are relative to it. */
export const HANDLER_TEST_NOW = Date.parse("2025-06-02T09:00:00.000Z");
export const TEST_API_KEY_NAME = "crm";
export const TEST_API_KEY = "crm-test-key-0001";

export interface HandlerRig {
  db: SqliteDatabase;
  queue: SqliteMessageQueue;
  acceptQueue: FlakyQueue;
  store: SqliteRequestStore;
  secrets: StaticSecretStore;
  log: MemoryLog;
  clock: { now(): number };
  http: AcceptHandlerDeps;
  webhook: (automations: readonly Automation[]) => PassEntryWebhookDeps;
  /** Bodies of the queued messages, parsed. */
  queued(): any[];
  close(): void;
}

/** The accept path on in-memory SQLite, with an API key, two signers and PassEntry's webhook secret configured. */
export function handlerRig(options: { now?: number; secrets?: Partial<Record<SecretName, string>> } = {}): HandlerRig {
  const db = openSqlite(":memory:");
  const queue = new SqliteMessageQueue(db);
  const acceptQueue = new FlakyQueue(queue);
  const store = new SqliteRequestStore(db);
  const secrets = new StaticSecretStore({
    "passentry-token": "handler-test-token",
    "api-keys": `${TEST_API_KEY_NAME}:${TEST_API_KEY}`,
    "webhook-signing-secrets": SIGNING_SECRETS,
    "passentry-webhook-secrets": `${PASSENTRY_WEBHOOK_SECRET},${PASSENTRY_WEBHOOK_SECRET_NEXT}`,
    ...options.secrets,
  });
  const log = new MemoryLog();
  const now = options.now ?? HANDLER_TEST_NOW;
  const clock = { now: () => now };
  const ports = { store, queue: acceptQueue, clock, log, secrets };
  const http = composeAccept(ports, { allowedBatchKeys: [] });
  return {
    db,
    queue,
    acceptQueue,
    store,
    secrets,
    log,
    clock,
    http,
    webhook: (automations) => composePassEntryWebhook({ ...ports, automations }, { allowedBatchKeys: [] }),
    queued: () => queue.peek().map((m) => JSON.parse(m.body)),
    close: () => db.close(),
  };
}
