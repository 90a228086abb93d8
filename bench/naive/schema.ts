/** The trigger body as a naive handler would write it: the classic `zod` import, one schema, no care for size. */
import { z } from "zod";

export const TriggerBody = z.object({
  batch: z
    .looseObject({
      message: z.string().trim().min(1),
      segments: z
        .array(z.looseObject({ groupTag: z.string().optional() }))
        .min(1)
        .optional(),
      recipients: z.array(z.looseObject({})).min(1).max(500).optional(),
      scheduledAt: z.iso.datetime({ offset: true }).optional(),
      name: z.string().optional(),
      tag: z.string().optional(),
    })
    .refine((b) => (b.segments === undefined) !== (b.recipients === undefined), "segments or recipients"),
});

export const QueueMessage = z.object({
  requestId: z.string().min(1),
  entityId: z.string().min(1),
  batch: TriggerBody.shape.batch,
});
