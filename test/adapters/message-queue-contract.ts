/**
 * The MessageQueue contract: what the accept handler may rely on whichever queue it is given (the
 * SQLite queue in the embedded home, SQS on AWS). Run it with `describeMessageQueueContract`.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MessageQueue } from "../../functions/core/ports.js";

export interface MessageQueueHarness {
  queue: MessageQueue;
  /**
   * What a consumer polling `secondsAfterSend` seconds after the sends would be handed: message id to
   * parsed body. Polling does not consume; it may be called several times with growing times.
   */
  deliverableAfter(secondsAfterSend: number): Promise<Map<string, unknown>>;
  close(): Promise<void>;
}

/** SQS's maximum message size (256 KiB), which the SQLite queue enforces too. */
export const MAX_MESSAGE_BYTES = 262_144;

const request = (n: number) => ({
  requestId: `req-${n}`,
  entityId: "entity-1",
  source: "http",
  batch: { message: `Happy hour ${n}`, segments: [{ groupTag: "summerPromotion" }] },
});

export function describeMessageQueueContract(name: string, makeHarness: () => Promise<MessageQueueHarness>): void {
  describe(`${name} (MessageQueue contract)`, () => {
    let harness: MessageQueueHarness;
    let queue: MessageQueue;

    beforeEach(async () => {
      harness = await makeHarness();
      queue = harness.queue;
    });

    afterEach(async () => {
      await harness.close();
    });

    describe("send", () => {
      it("returns a distinct message id for every message", async () => {
        // Act
        const ids = [
          await queue.send(request(1)),
          await queue.send(request(1)),
          ...(await Promise.all([2, 3, 4].map((n) => queue.send(request(n))))),
        ];

        // Assess
        expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
        expect(new Set(ids).size).toBe(5);
      });

      it("delivers the body as the same JSON value that was sent", async () => {
        // Prepare
        const body = {
          ...request(1),
          batch: {
            message: 'Grüße 🎉 "quoted" \\ back\nslash <b>&amp;</b>',
            recipients: [{ passId: "p-1", variables: { n: 1.5, ok: true, none: null } }],
          },
          nested: { list: [1, "two", { three: [3] }] },
        };

        // Act
        const id = await queue.send(body);

        // Assess
        expect((await harness.deliverableAfter(0)).get(id)).toEqual(body);
      });

      it("delivers at once when no delay is asked", async () => {
        // Act
        const id = await queue.send(request(1));

        // Assess
        expect([...(await harness.deliverableAfter(0)).keys()]).toEqual([id]);
      });

      it("holds a message back for delaySeconds", async () => {
        // Prepare
        const prompt = await queue.send(request(1));

        // Act
        const delayed = await queue.send(request(2), { delaySeconds: 30 });

        // Assess
        expect([...(await harness.deliverableAfter(29)).keys()]).toEqual([prompt]);
        expect((await harness.deliverableAfter(30)).get(delayed)).toEqual(request(2));
      });

      it("holds a message back at most 900 seconds, SQS's maximum, when asked for more", async () => {
        // Act
        const id = await queue.send(request(1), { delaySeconds: 3600 });

        // Assess
        expect((await harness.deliverableAfter(899)).has(id)).toBe(false);
        expect((await harness.deliverableAfter(900)).has(id)).toBe(true);
      });

      it("accepts a message of exactly 256 KiB, SQS's limit", async () => {
        // Prepare: JSON.stringify of a string adds its two quotes.
        const body = "x".repeat(MAX_MESSAGE_BYTES - 2);

        // Act
        const id = await queue.send(body);

        // Assess
        expect((await harness.deliverableAfter(0)).get(id)).toBe(body);
      });

      it("refuses a message over 256 KiB and delivers nothing", async () => {
        // Prepare: a multi-byte character makes the byte count, not the character count, decide.
        const body = "é".repeat(MAX_MESSAGE_BYTES / 2);

        // Act
        const attempt = queue.send(body);

        // Assess
        await expect(attempt).rejects.toThrow();
        expect((await harness.deliverableAfter(900)).size).toBe(0);
      });

      it("delivers at once when the delay is negative", async () => {
        // Act
        const id = await queue.send(request(1), { delaySeconds: -5 });

        // Assess
        expect((await harness.deliverableAfter(0)).has(id)).toBe(true);
      });
    });
  });
}
