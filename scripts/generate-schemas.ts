/**
 * Writes the JSON Schemas of what other services may send us, generated from the zod schemas (the
 * single source of truth): `npm run schemas`. A test fails when the committed files drift.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod/mini";
import {
  SendRequestMessage,
  TriggerRequestBody,
  WalletMessageBatchCompleted,
  WalletMessageBatchCreated,
  WalletMessageBatchFailed,
  WalletMessageRequestRejected,
} from "../functions/core/schemas.js";

export function schemaDocuments(): Record<string, unknown> {
  const doc = (schema: z.core.$ZodType, id: string, title: string, description: string) => ({
    ...z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }),
    $id: `https://wallet-messaging.dev/schema/${id}`,
    title,
    description,
  });
  return {
    "wallet-message-request.schema.json": doc(
      SendRequestMessage,
      "wallet-message-request.schema.json",
      "WalletMessageRequested",
      "A request to send a PassEntry wallet message: the body of an SQS message sent to MessagesQueue, or the `detail` of an EventBridge event with detail-type `WalletMessageRequested`. `requestId` is your idempotency key: two messages with the same requestId send once. The batch targets either `segments` or `recipients` (not both).",
    ),
    "trigger-request.schema.json": doc(
      TriggerRequestBody,
      "trigger-request.schema.json",
      "Trigger request body",
      "The body of POST /api/v1/entities/{entityId}/messaging/wallet: the same body PassEntry's endpoint takes. The batch targets either `segments` or `recipients` (not both); each recipient names a pass (a field besides `variables` holding a non-blank text or a number). Top-level batch keys other than those listed here are refused (422) unless the operator allows them by name (ALLOWED_BATCH_KEYS); keys inside a segment or a recipient pass through.",
    ),
    ...outcomeEvent(
      WalletMessageBatchCreated,
      "WalletMessageBatchCreated",
      "A PassEntry batch was created for one chunk (up to 500 recipients) of a request.",
    ),
    ...outcomeEvent(
      WalletMessageBatchCompleted,
      "WalletMessageBatchCompleted",
      "A batch reached `successful` or `completedWithErrors` at PassEntry (seen by status tracking), with its recipient count and CSV links.",
    ),
    ...outcomeEvent(
      WalletMessageBatchFailed,
      "WalletMessageBatchFailed",
      "A chunk will not be delivered: PassEntry refused to create it (batchId null), its validation failed (status `failed`, errorsCsvUrl), or it was cancelled (status `cancelled`).",
    ),
    ...outcomeEvent(
      WalletMessageRequestRejected,
      "WalletMessageRequestRejected",
      "A queue message that is not a valid wallet message request was dropped without sending.",
    ),
  };

  /** Outcome events arrive as EventBridge events: source `wallet-messaging`, detail-type the event's `type`, this as `detail`. */
  function outcomeEvent(schema: z.core.$ZodType, type: string, what: string) {
    const file = `${type.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase()}.schema.json`;
    return {
      [file]: doc(
        schema,
        file,
        type,
        `${what} Published on the WalletBus with source \`wallet-messaging\` and detail-type \`${type}\`; this is the event's \`detail\`. Delivered at least once: dedupe on type, requestId and chunk.`,
      ),
    };
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [file, document] of Object.entries(schemaDocuments())) {
    writeFileSync(new URL(`../schema/${file}`, import.meta.url), `${JSON.stringify(document, null, 2)}\n`);
    console.log(`wrote schema/${file}`);
  }
}
