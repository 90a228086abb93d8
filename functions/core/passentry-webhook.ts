/**
 * The events PassEntry posts to our `/webhooks/passentry` endpoint, as zod schemas. PassEntry
 * documents the shape only by example (see shared/passentry-api.md), so everything beyond what we
 * act on is optional and unknown keys pass through: a new attribute or event type must never make
 * us refuse a delivery PassEntry would then retry for ever.
 *
 * @example
 *   {"data":{"id":"<event uuid>","type":"webhook","attributes":{"timeStamp":"…","webhookType":"passInstalled"},
 *     "relationships":{"pass":{"data":{"id":"<pass id>","type":"pass"}}}},
 *    "included":[{"id":"<pass id>","type":"pass","attributes":{"extId":"…","passTemplateUuid":"…","passContent":{"fullName":"Jane Smith"}}}]}
 */
import * as z from "./zod.js";

/** Event types PassEntry documents; `passTapped` is deprecated and others may appear. */
export const PASSENTRY_EVENT_TYPES = ["passInstalled", "passRemoved", "passScanned", "passCreated"] as const;
export const PassEntryEventType = z.enum(PASSENTRY_EVENT_TYPES);
export type PassEntryEventType = z.infer<typeof PassEntryEventType>;

const optionalText = z.nullish(z.string());

/** A pass as PassEntry includes it next to the event. */
export const PassEntryIncludedPass = z.looseObject({
  id: z.string().check(z.minLength(1)),
  type: z.optional(z.string()),
  attributes: z.nullish(
    z.looseObject({
      extId: optionalText,
      passTemplateUuid: optionalText,
      // Values are whatever the pass template's fields hold; only flat ones become message variables.
      passContent: z.nullish(z.record(z.string(), z.unknown())),
    }),
  ),
});
export type PassEntryIncludedPass = z.infer<typeof PassEntryIncludedPass>;

export const PassEntryWebhookEvent = z.looseObject({
  data: z.looseObject({
    /** The event's id: stable across PassEntry's retries, so it is what we deduplicate on. */
    id: z.string().check(z.minLength(1), z.maxLength(200)),
    type: z.optional(z.string()),
    attributes: z.looseObject({
      /**
       * The event time; a retried delivery can carry an old one. Read by `readEventTime`, not here: a
       * value of an unexpected type must be acknowledged and ignored, not refused with a 400 that
       * PassEntry would retry without end.
       */
      timeStamp: z.optional(z.unknown()),
      /** Kept as a string: an unknown type is accepted and ignored, not refused. */
      webhookType: z.string().check(z.minLength(1)),
    }),
    relationships: z.nullish(
      z.looseObject({
        pass: z.nullish(
          z.looseObject({
            data: z.nullish(z.looseObject({ id: z.string().check(z.minLength(1)), type: z.optional(z.string()) })),
          }),
        ),
      }),
    ),
  }),
  // Other included resources (entities, templates…) must not fail the parse: only passes are read.
  included: z.nullish(z.array(z.looseObject({ id: z.optional(z.unknown()), type: z.optional(z.unknown()) }))),
});
export type PassEntryWebhookEvent = z.infer<typeof PassEntryWebhookEvent>;

/** The pass an event is about: its id, and what PassEntry included about it. */
export interface EventPass {
  passId: string;
  extId?: string | undefined;
  passTemplateUuid?: string | undefined;
  passContent: Record<string, unknown>;
}

/**
 * The pass an event concerns, from `data.relationships.pass` (or the one included pass when the
 * relationship is absent); undefined when the event names no pass.
 */
export function eventPass(event: PassEntryWebhookEvent): EventPass | undefined {
  const passes = (event.included ?? [])
    .filter((item) => item.type === "pass")
    .map((item) => PassEntryIncludedPass.safeParse(item))
    .flatMap((parsed) => (parsed.success ? [parsed.data] : []));
  const passId = event.data.relationships?.pass?.data?.id ?? (passes.length === 1 ? passes[0]!.id : undefined);
  if (!passId) return undefined;
  const included = passes.find((p) => p.id === passId);
  const attributes = included?.attributes ?? {};
  return {
    passId,
    extId: attributes.extId ?? undefined,
    passTemplateUuid: attributes.passTemplateUuid ?? undefined,
    passContent: attributes.passContent ?? {},
  };
}
