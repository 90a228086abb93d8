/**
 * The single definition of every payload that crosses a boundary: the trigger request (the very body
 * PassEntry's wallet-messaging endpoint takes), the queue message, the stored request and send
 * records, and PassEntry's answers. Types come from `z.infer`; nothing else declares these shapes.
 */
import * as z from "./zod.js";

import { MAX_RECIPIENTS_PER_BATCH } from "./passentry-limits.js";

/**
 * What one request to us may address: longer lists are split into one PassEntry batch per 500
 * (functions/core/send-request.ts `splitIntoChunks`), each with its own ledger entry. The 256,000-byte
 * body limit still applies, and usually bites first.
 */
export const MAX_RECIPIENTS_PER_REQUEST = 10_000;

/** ISO-8601 date-time that names its zone (`Z` or an offset): a bare local time is ambiguous. */
export const IsoDateTimeWithZone = z.iso.datetime({
  offset: true,
  error:
    "must be an ISO-8601 date-time with seconds and a zone, e.g. 2030-03-31T13:16:26Z or 2030-03-31T14:16:26+01:00 (not 2030-03-31T13:16Z, nor +0100)",
});

/**
 * What shows nothing on screen: spaces, controls, format characters (zero-width space, word joiner,
 * byte-order mark, bidi marks), marks with nothing to mark (combining grapheme joiner, variation
 * selectors), and the letters and symbols that are drawn blank (Hangul fillers, the braille blank,
 * the Mongolian vowel separator).
 */
const BLANK = /[\s\p{Z}\p{Cc}\p{Cf}\p{M}\u115F\u1160\u3164\uFFA0\u2800\u180E]/gu;

/** Whether text shows anything: an id made only of BLANK looks empty wherever it is shown, so it names nothing. */
export function hasVisibleText(text: string): boolean {
  return text.replace(BLANK, "") !== "";
}

const nonBlank = (field: string) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be a string`) })
    .check(z.refine(hasVisibleText, `${field} must not be blank`));

/**
 * Whether any text in `value` (string values and object keys, at any depth) holds a lone UTF-16
 * surrogate. JSON's `\ud800` escape can carry one, and the text is then not Unicode: stored, it
 * makes every list answer that includes it unreadable to strict JSON readers such as jq. Walks with
 * its own stack: a message from SQS or EventBridge has not been through the HTTP door's depth limit.
 */
export function holdsLoneSurrogate(value: unknown): boolean {
  const lone = /\p{Cs}/u;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === "string") {
      if (lone.test(next)) return true;
    } else if (next !== null && typeof next === "object") {
      for (const [key, inner] of Object.entries(next)) {
        if (lone.test(key)) return true;
        pending.push(inner);
      }
    }
  }
  return false;
}

/**
 * What starts the marker we put in every batch name we create (functions/core/batch-rules.ts): a
 * caller's own name or tag holding it could pass for ours when we reconcile, so it is refused.
 */
export const MARKER_PREFIX = "[wm:";
const withoutMarker = (field: string) =>
  z.refine<string>(
    (s) => !s.includes(MARKER_PREFIX),
    `${field} must not contain "${MARKER_PREFIX}": it is reserved for the marker that identifies our batches at PassEntry`,
  );

/**
 * `groupTag` is the segment filter PassEntry documents, so every segment must name one: a segment
 * without it (`{}`, or only keys PassEntry may ignore) could reach every pass of the entity. Other
 * keys (entity, pass template filters) pass through beside it: they can only narrow the audience.
 */
const SEGMENT_NEEDS_GROUP =
  'needs a groupTag naming the group of passes to message, e.g. {"groupTag": "vip"}: it is the segment filter PassEntry documents, and a segment without one could reach every pass of the entity';
export const Segment = z.looseObject(
  {
    groupTag: z
      .string({ error: `segment ${SEGMENT_NEEDS_GROUP}` })
      .check(z.refine(hasVisibleText, `groupTag must not be blank: a segment ${SEGMENT_NEEDS_GROUP}`)),
  },
  { error: (issue) => `each segment must be an object such as {"groupTag":"vip"}, not ${kindOf(issue.input)}` },
);

/**
 * PassEntry documents a recipient as "pass UUID or external ID per recipient plus its variables",
 * without naming the fields (we send `passId`; `extId` is the external ID's name elsewhere in its
 * API). So any field passes through, but a recipient must name a pass: at least one field besides
 * `variables` holding a non-blank text or a number. An empty recipient, or one with only
 * variables, names nobody, yet 1,000 of them in a few kilobytes would cost two PassEntry batches
 * and whatever PassEntry makes of a recipient without a pass.
 */
export const Recipient = z
  .looseObject({})
  .check(
    z.refine(
      (recipient) =>
        Object.entries(recipient).some(
          ([key, value]) =>
            key !== "variables" &&
            ((typeof value === "string" && hasVisibleText(value)) ||
              (typeof value === "number" && Number.isFinite(value))),
        ),
      'must name a pass: give its pass id or external id (e.g. {"passId": "…"}); a recipient with no id, or with only variables, is refused',
    ),
  );

/** Who a batch addresses by group (`segments`), as PassEntry's batch and a promotion's audience both say it. */
export const segmentsField = (parent: string) =>
  z.optional(
    z
      .array(Segment, { error: `${parent}.segments must be a list of segments, e.g. [{"groupTag":"vip"}]` })
      .check(z.minLength(1, `${parent}.segments must not be empty`)),
  );

/** Who a batch addresses by pass (`recipients`), at most `max` of them. */
export const recipientsField = (parent: string, max: number) =>
  z.optional(
    z
      .array(Recipient, { error: `${parent}.recipients must be a list of recipients, e.g. [{"passId":"…"}]` })
      .check(
        z.minLength(1, `${parent}.recipients must not be empty`),
        z.maxLength(max, `${parent}.recipients must hold at most ${max} recipients`),
      ),
  );

/**
 * The keys our contract names at the top level of `batch`: PassEntry's documented fields and our
 * own `sendNow` and `coalesce`. Any other top-level key is refused at our door (see `unknownBatchKeys`) unless an
 * operator allows it by name: if PassEntry honoured one such as `entityId` or `passTemplateUuid`, a
 * caller could widen who gets messaged. Keys inside a segment still pass through (they can only
 * narrow an audience).
 */
export const BATCH_CONTRACT_KEYS: readonly string[] = [
  "message",
  "segments",
  "recipients",
  "scheduledAt",
  "name",
  "tag",
  "sendNow",
  "coalesce",
];

/** Top-level batch keys neither in our contract nor allowed by the operator, in the order given. */
export function unknownBatchKeys(batch: object, allowed: readonly string[] = []): string[] {
  return Object.keys(batch).filter((key) => !BATCH_CONTRACT_KEYS.includes(key) && !allowed.includes(key));
}

/** `batch.name` and `batch.tag`: PassEntry's free texts, with one sentence for every way to get them wrong. */
const shortText = (field: string) => {
  const rule = `${field} must be text of 1 to 200 characters`;
  return z.string({ error: rule }).check(z.minLength(1, rule), z.maxLength(200, rule), withoutMarker(field));
};

/** What a refused value is, in words for a sentence: "a string", "null", "a list". */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * The `batch` object of PassEntry's `POST /api/v1/entities/{id}/messaging/wallet`. Parsing keeps
 * unknown keys, so a stored request or queued message reads back as written; the trigger door
 * refuses top-level keys outside BATCH_CONTRACT_KEYS (unless allowed) before anything is stored.
 */
export const WalletMessageBatch = z
  .looseObject(
    {
      message: nonBlank("batch.message"),
      segments: segmentsField("batch"),
      recipients: recipientsField("batch", MAX_RECIPIENTS_PER_REQUEST),
      scheduledAt: z.optional(IsoDateTimeWithZone),
      name: z.optional(shortText("batch.name")),
      tag: z.optional(shortText("batch.tag")),
      /**
       * Ours, not PassEntry's (removed before posting): send at once. Also the meaning of a batch
       * without `scheduledAt`; `false` there keeps PassEntry's own default (an hour from now).
       */
      sendNow: z.optional(z.boolean({ error: "batch.sendNow must be true or false" })),
      /**
       * Ours, not PassEntry's (removed before posting): `false` keeps this request in a PassEntry batch
       * of its own, never shared with the caller's other requests (functions/core/coalesce.ts).
       */
      coalesce: z.optional(z.boolean({ error: "batch.coalesce must be true or false" })),
    },
    {
      error: (issue) =>
        `batch ${issue.input === undefined ? "is missing" : `must be an object, not ${kindOf(issue.input)}`}: the body needs a "batch" object, e.g. {"batch":{"message":"Hi","segments":[{"groupTag":"vip"}]}}`,
    },
  )
  .check(
    z.refine((b) => (b.segments === undefined) !== (b.recipients === undefined), {
      message: "batch must target either segments or recipients, not both and not neither",
      path: ["segments"],
    }),
    z.refine((b) => !(b.sendNow === true && b.scheduledAt !== undefined), {
      message: "batch.sendNow cannot be combined with batch.scheduledAt: send now, or at that time",
      path: ["sendNow"],
    }),
    z.refine((b) => !holdsLoneSurrogate(b), {
      message:
        "batch holds text that is not valid Unicode: a lone UTF-16 surrogate (e.g. \\ud800 without its partner). Send each character whole, e.g. 😀 as UTF-8 or as the pair \\ud83d\\ude00",
    }),
  );
export type WalletMessageBatch = z.infer<typeof WalletMessageBatch>;

/** Body of our trigger endpoint: identical to PassEntry's, so its curl example works unchanged. */
export const TriggerRequestBody = z.object({ batch: WalletMessageBatch });
export type TriggerRequestBody = z.infer<typeof TriggerRequestBody>;

/** `group`: not a caller's request but a shared PassEntry batch made of several (functions/core/coalesce.ts). */
export const RequestSource = z.enum(["http", "eventbridge", "sqs", "schedule", "webhook", "group"]);
export type RequestSource = z.infer<typeof RequestSource>;

/**
 * Characters an entity id may not hold: controls (C0, DEL, C1), format characters (bidi overrides
 * and isolates, zero-width marks, the byte-order mark), lone surrogates, and line or paragraph
 * separators. Entity ids reach PassEntry's URL, our logs and the CLI's terminal output, where such
 * characters forge lines, reorder text or drive the terminal.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** The PassEntry entity a request is sent through: 1 to 200 printable characters. */
export const EntityId = z.string({ error: "entityId must be a string" }).check(
  z.minLength(1, "The entity id must not be empty."),
  z.maxLength(200, "The entity id must be at most 200 characters long."),
  z.refine(
    (id) => !UNPRINTABLE.test(id),
    "The entity id must be printable: no control, line-breaking, bidi or other invisible formatting characters.",
  ),
  z.refine(hasVisibleText, "The entity id must show something: it is made only of blank characters."),
);

/** Our request ids and caller-chosen ids: safe in URLs, ledger keys and PassEntry batch names. */
export const RequestId = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(100),
    z.regex(/^[A-Za-z0-9_.:-]+$/, "requestId may hold letters, digits and _ . : - only"),
  );

/**
 * What one queue message asks for. Our accept handler always sets `requestId`; another AWS service
 * sending directly to SQS may omit it, and then the SQS message id (stable across redeliveries)
 * becomes the business key.
 */
export const SendRequestMessage = z.object({
  requestId: z.optional(RequestId),
  entityId: EntityId,
  batch: WalletMessageBatch,
  source: z.optional(RequestSource),
  acceptedAt: z.optional(IsoDateTimeWithZone),
});
export type SendRequestMessage = z.infer<typeof SendRequestMessage>;

/** EventBridge delivers `WalletMessageRequested` events to the queue wrapped in its envelope. */
export const WalletMessageRequestedEvent = z.object({
  id: z.string().check(z.minLength(1)),
  "detail-type": z.literal("WalletMessageRequested"),
  source: z.string(),
  detail: SendRequestMessage,
});

/** A send request on the queue: our own message, or an EventBridge envelope around one. */
export const SendRequestBody = z.union([WalletMessageRequestedEvent, SendRequestMessage]);
export type SendRequestBody = z.infer<typeof SendRequestBody>;

/**
 * A note the sender leaves itself on the queue (usually delayed) to look at a batch again:
 * `send-now` polls a batch until it leaves `validating`, then asks PassEntry to send it at once;
 * `track` re-reads a batch until it reaches a terminal status; `cancel` cancels a request's batches
 * at PassEntry. `attempt` drives the backoff; `notBefore` makes a message wait (in hops of at most
 * 900 s, SQS's longest delay) without calling PassEntry.
 */
export const FollowUpMessage = z
  .object({
    followUp: z.enum(["send-now", "track", "cancel"]),
    requestId: RequestId,
    chunk: z.optional(z.number().check(z.int(), z.gte(0))),
    batchId: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
    attempt: z.number().check(z.int(), z.gte(1)),
    notBefore: z.optional(IsoDateTimeWithZone),
    /** `cancel` only: chunks the cancellation stopped before they were sent, announced once by the sender. */
    cancelledChunks: z.optional(z.array(z.number().check(z.int(), z.gte(0))).check(z.maxLength(100))),
  })
  .check(
    z.refine((m) => m.followUp === "cancel" || (m.chunk !== undefined && m.batchId !== undefined), {
      message: "a send-now or track follow-up must name its chunk and batchId",
      path: ["batchId"],
    }),
  );
export type FollowUpMessage = z.infer<typeof FollowUpMessage>;

/** Everything the sender may find on the queue. */
export const QueueMessageBody = z.union([FollowUpMessage, SendRequestBody]);
export type QueueMessageBody = z.infer<typeof QueueMessageBody>;

export function isFollowUp(body: QueueMessageBody): body is FollowUpMessage {
  return "followUp" in body;
}

/** A send request resolved to its business key, whatever door it came through. */
export interface SendRequest {
  requestId: string;
  entityId: string;
  batch: WalletMessageBatch;
  source: RequestSource;
  acceptedAt?: string | undefined;
}

/** Turns any accepted send request body into a SendRequest with a stable business key. */
export function toSendRequest(body: SendRequestBody, queueMessageId: string): SendRequest {
  if ("detail-type" in body) {
    const d = body.detail;
    return {
      requestId: d.requestId ?? `evt-${body.id}`,
      entityId: d.entityId,
      batch: d.batch,
      source: d.source ?? "eventbridge",
      acceptedAt: d.acceptedAt,
    };
  }
  return {
    requestId: body.requestId ?? `sqs-${queueMessageId}`,
    entityId: body.entityId,
    batch: body.batch,
    source: body.source ?? "sqs",
    acceptedAt: body.acceptedAt,
  };
}

// ---------------------------------------------------------------------------------------------
// PassEntry answers: parsed leniently (every attribute optional and nullable) since the API is beta.

export const BatchStatus = z.enum([
  "validating",
  "scheduled",
  "sending",
  "successful",
  "completedWithErrors",
  "failed",
  "cancelled",
]);
export type BatchStatus = z.infer<typeof BatchStatus>;
export const TERMINAL_BATCH_STATUSES: readonly BatchStatus[] = [
  "failed",
  "successful",
  "completedWithErrors",
  "cancelled",
];

const nullableString = z.nullish(z.string());

export const PassEntryBatchResource = z.looseObject({
  id: z.string().check(z.minLength(1)),
  type: z.optional(z.string()),
  attributes: z._default(
    z.optional(
      z.looseObject({
        name: nullableString,
        // An unknown future status must not break us: keep the raw string.
        status: z.nullish(z.string()),
        tag: nullableString,
        content: nullableString,
        scheduledAt: nullableString,
        totalCount: z.nullish(z.number()),
        completedAt: nullableString,
        errorsCsvUrl: nullableString,
        deliveryCsvUrl: nullableString,
      }),
    ),
    {},
  ),
});
export type PassEntryBatchResource = z.infer<typeof PassEntryBatchResource>;

export const PassEntryBatchDocument = z.looseObject({
  data: PassEntryBatchResource,
  links: z.optional(z.looseObject({ self: z.nullish(z.string()) })),
});
export type PassEntryBatchDocument = z.infer<typeof PassEntryBatchDocument>;

export const PassEntryBatchList = z.looseObject({
  data: z.array(PassEntryBatchResource),
  meta: z.optional(z.looseObject({ totalPages: z.nullish(z.number()), currentPage: z.nullish(z.number()) })),
  links: z.optional(z.looseObject({ next: z.nullish(z.string()) })),
});
export type PassEntryBatchList = z.infer<typeof PassEntryBatchList>;

export const PassEntryErrorBody = z.looseObject({ errors: z.array(z.unknown()) });

// ---------------------------------------------------------------------------------------------
// Stored records.

/**
 * What a request looks like to the caller; derived from the request and its sends
 * (functions/core/request-view.ts). `deadLettered`: a message of the request went to the
 * dead-letter queue after its last receive failed; nothing sends it until it is redriven.
 */
export const RequestState = z.enum(["queued", "submitted", "failed", "unknown", "cancelled", "deadLettered"]);
export type RequestState = z.infer<typeof RequestState>;

/** How many parts of a request reached each outcome (see request-view.ts `requestProgress`). */
export const RequestProgress = z.object({
  chunks: z.number(),
  sent: z.number(),
  pending: z.number(),
  failed: z.number(),
  cancelled: z.number(),
  unknown: z.number(),
});
export type RequestProgress = z.infer<typeof RequestProgress>;

export const RequestSummary = z.object({ state: RequestState, progress: RequestProgress, at: z.string() });
export type RequestSummary = z.infer<typeof RequestSummary>;

/** Which message of a request was dead-lettered, and why its last attempt failed. */
export const DeadLetterMark = z.object({
  at: z.string(),
  /** `send` (the request itself) or the follow-up's name (`send-now`, `track`, `cancel`). */
  kind: z.string(),
  messageId: z.string(),
  receiveCount: z.number(),
  lastError: z.string(),
});
export type DeadLetterMark = z.infer<typeof DeadLetterMark>;

/** What may name a caller: key, signer, promotion and automation names alike. */
export const CALLER_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
export const CALLER_KINDS = ["key", "signer", "operator", "schedule", "automation"] as const;
export type CallerKind = (typeof CALLER_KINDS)[number];

/**
 * Who made a request, with its kind: `key:crm` (an API key named crm), `signer:crm` (a Standard
 * Webhooks signing secret named crm: another caller than the key), `operator:ops` (an API key
 * marked operator), `schedule:<promotion id>`, `automation:<automation id>`. Several keys (or
 * secrets) may share one name, so rotating one keeps its caller's requests.
 */
export const CallerId = z.templateLiteral([z.enum(CALLER_KINDS), ":", z.string().check(z.regex(CALLER_NAME))]);
export type CallerId = z.infer<typeof CallerId>;

export const RequestRecord = z.object({
  requestId: RequestId,
  /** Kept as stored: a record from an earlier version may hold an id the door now refuses. */
  entityId: z.string(),
  source: RequestSource,
  createdAt: z.string(),
  /** When the message reached the queue; absent while accepting or if queueing failed. */
  enqueuedAt: z.optional(z.string()),
  /** Request-level failure before any send was attempted (e.g. it could not be queued). */
  failureReason: z.optional(z.string()),
  /** Who made it; absent for requests put straight on the queue or bus by another AWS service (operators only see those). */
  caller: z.optional(CallerId),
  /** Written by versions before `caller` existed: a key's or a signer's name, we cannot tell which (see callers.ts). */
  apiKeyName: z.optional(z.string()),
  /** Scoped to `caller`: two callers may use the same key without meeting. */
  idempotencyKey: z.optional(z.string()),
  /** sha256 of entity id + canonical body, to tell a retry from a different request under the same key. */
  fingerprint: z.optional(z.string()),
  /** A copy of what was asked (no secrets), so status answers show it and redrives can rebuild it. */
  batch: WalletMessageBatch,
  /** Set when the batch is to go out at once (`sendNow`, or no `scheduledAt`), rather than at its scheduledAt. */
  sendNow: z.optional(z.boolean()),
  /** Who first asked to cancel it, and when (the ledger records what the cancellation stopped). */
  cancelledBy: z.optional(CallerId),
  cancelledAt: z.optional(z.string()),
  /** A shared batch (source `group`) only: the requests whose recipients it carries. */
  members: z.optional(z.array(RequestId).check(z.maxLength(MAX_RECIPIENTS_PER_BATCH))),
  /**
   * A message of this request was handed back on its last receive, so the queue dead-letters it
   * (recorded by the sender: SQS itself cannot tell anyone that it moved a message). Cleared when
   * the message is redriven or handled again.
   */
  deadLetter: z.optional(DeadLetterMark),
  /**
   * The request's state and progress as of its last move, kept on the record so that the list can
   * filter and page without reading every ledger entry. The detail view derives both from the
   * ledger again (request-view.ts), which stays the one truth; this is a copy refreshed after every
   * move (request-summary.ts). Absent on records no sender has touched yet: `queued`.
   */
  summary: z.optional(RequestSummary),
});
export type RequestRecord = z.infer<typeof RequestRecord>;

/**
 * Where one part (chunk) of a request stands; functions/core/send-state-machine.ts owns every move
 * between these. `claimed`: a worker holds it and may POST; `open`: nobody holds it, a later claim
 * may; `shared`: it rides in a shared batch (`groupId`) that is not yet known to exist; `sent`:
 * PassEntry has its batch (its own, or a shared one); `failed`: PassEntry refused it for good;
 * `unknown`: a batch may exist and nothing could tell, so an operator decides; `cancelled`: it never
 * was and never will be sent.
 */
export const SendState = z.enum(["claimed", "open", "shared", "sent", "failed", "unknown", "cancelled"]);
export type SendState = z.infer<typeof SendState>;

/** One ledger entry: one PassEntry batch, keyed by business key (request id + chunk). Never deleted. */
export const SendRecord = z.object({
  requestId: RequestId,
  chunk: z.number().check(z.int(), z.gte(0)),
  state: SendState,
  /** Bumped by every write; every transition is written only over the version it was decided on. */
  version: z._default(z.number().check(z.int(), z.gte(1)), 1),
  /** The claim token is owner + attempt: the latest holder, and how many claims the entry has seen. */
  owner: z.string(),
  attempt: z.number().check(z.int(), z.gte(0)),
  claimedAt: z.optional(z.string()),
  /** Until when the holder's claim protects it (epoch ms); 0 when nobody holds it. */
  leaseUntil: z.number(),
  /** The marker of the latest POST (functions/core/batch-rules.ts), as it was put in the batch's name. */
  marker: z.optional(z.string()),
  /** The attempt whose POST may be in flight: set just before a POST leaves, cleared when its answer is known. */
  inFlight: z.optional(z.number().check(z.int(), z.gte(1))),
  /** A POST's outcome was not learnt, so PassEntry may hold a batch: look for it before any new POST. */
  needsReconcile: z.optional(z.boolean()),
  /** No reconciliation before this (epoch ms): PassEntry may still be creating a batch whose answer we lost. */
  reconcileNotBefore: z.optional(z.number()),
  /** When the first POST left (epoch ms): reconciliation searches PassEntry's list back to here. */
  firstPostAt: z.optional(z.number()),
  /** POSTs made so far. */
  posts: z.optional(z.number().check(z.int(), z.gte(0))),
  batchId: z.optional(z.string()),
  batchStatus: z.optional(z.string()),
  totalCount: z.optional(z.nullable(z.number())),
  errorsCsvUrl: z.optional(z.nullable(z.string())),
  deliveryCsvUrl: z.optional(z.nullable(z.string())),
  /** The batch's scheduledAt as PassEntry last reported it (for a send-now request, the placeholder we gave). */
  scheduledAt: z.optional(z.nullable(z.string())),
  /** When the batch's status was last read from PassEntry. */
  statusCheckedAt: z.optional(z.string()),
  /** When PassEntry accepted our send-now for this batch. */
  sendNowAt: z.optional(z.string()),
  /**
   * An early send: the caller asked for a `scheduledAt` closer than PassEntry's hour of notice, so
   * the batch was created for the earliest time PassEntry accepts and its send-now follow-up waits
   * until this time (see send-request.ts). Cancelling before then cancels the batch.
   */
  sendAt: z.optional(z.string()),
  /** When the first follow-up of a sent batch (send-now, track or cancel) was queued: until then the send is not finished. */
  followUpQueuedAt: z.optional(z.string()),
  /** When the request was cancelled (stamped once, kept whatever happens after). */
  cancelRequestedAt: z.optional(z.string()),
  /** An operator's decision on an `unknown` part: who, and when. */
  resolvedBy: z.optional(z.string()),
  resolvedAt: z.optional(z.string()),
  /** A member of a shared batch: the group (its own ledger part, `<groupId>#0`) whose batch carries this part's recipients. */
  groupId: z.optional(RequestId),
  /** A shared batch's own part: the member requests its POST carried (set when the POST starts). */
  members: z.optional(z.array(RequestId).check(z.maxLength(MAX_RECIPIENTS_PER_BATCH))),
  /** This part's own recipients (in a shared batch, `totalCount` is the whole batch's). */
  recipientCount: z.optional(z.number().check(z.int(), z.gte(0))),
  /** Batches PassEntry reported creating for this part besides `batchId` (only if a lease was outlived): evidence for a human. */
  duplicateBatchIds: z.optional(z.array(z.string())),
  /** The latest sentence for a person: why tracking stopped, why a cancellation could not happen. */
  note: z.optional(z.string()),
  reason: z.optional(z.string()),
  updatedAt: z.string(),
});
export type SendRecord = z.infer<typeof SendRecord>;

// ---------------------------------------------------------------------------------------------
// Outcome events: what the sender announces (EventBridge on AWS, in-process listeners locally).
// PassEntry has no batch-finished event; these are ours, published as we learn each outcome.

/** The EventBridge `source` of every event we publish. */
export const EVENT_SOURCE = "wallet-messaging";

const eventCommon = {
  requestId: RequestId,
  chunk: z.number().check(z.int(), z.gte(0)),
  entityId: z.nullable(z.string()),
  occurredAt: IsoDateTimeWithZone,
};

/** A PassEntry batch was created for one chunk of a request (recorded as sent in the ledger). */
export const WalletMessageBatchCreated = z.object({
  type: z.literal("WalletMessageBatchCreated"),
  ...eventCommon,
  batchId: z.string(),
  /** PassEntry's status in its answer, usually `validating`. */
  status: z.string(),
  totalCount: z.nullable(z.number()),
  sendNow: z.boolean(),
});

/** A batch reached `successful` or `completedWithErrors` (seen by tracking). */
export const WalletMessageBatchCompleted = z.object({
  type: z.literal("WalletMessageBatchCompleted"),
  ...eventCommon,
  batchId: z.string(),
  status: z.enum(["successful", "completedWithErrors"]),
  totalCount: z.nullable(z.number()),
  deliveryCsvUrl: z.nullable(z.string()),
  errorsCsvUrl: z.nullable(z.string()),
});

/**
 * A chunk will not be delivered: PassEntry refused to create it (`batchId` null, status `failed`),
 * its validation failed (status `failed`, with `errorsCsvUrl`), or it was cancelled (`cancelled`;
 * `batchId` null when it was stopped before it was sent).
 */
export const WalletMessageBatchFailed = z.object({
  type: z.literal("WalletMessageBatchFailed"),
  ...eventCommon,
  batchId: z.nullable(z.string()),
  status: z.enum(["failed", "cancelled"]),
  reason: z.string(),
  errorsCsvUrl: z.nullable(z.string()),
});

/** A queue message that is not a valid request was dropped without sending. */
export const WalletMessageRequestRejected = z.object({
  type: z.literal("WalletMessageRequestRejected"),
  /** The request id the message carried, when it could be read. */
  requestId: z.nullable(z.string().check(z.maxLength(200))),
  chunk: z.null(),
  batchId: z.null(),
  status: z.literal("rejected"),
  messageId: z.string(),
  reason: z.string(),
  problems: z.array(z.string()).check(z.maxLength(10)),
  occurredAt: IsoDateTimeWithZone,
});

export const WalletMessageEvent = z.discriminatedUnion("type", [
  WalletMessageBatchCreated,
  WalletMessageBatchCompleted,
  WalletMessageBatchFailed,
  WalletMessageRequestRejected,
]);
export type WalletMessageEvent = z.infer<typeof WalletMessageEvent>;
export type WalletMessageEventType = WalletMessageEvent["type"];
