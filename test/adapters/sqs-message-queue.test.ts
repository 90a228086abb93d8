/**
 * The SQS queue adapter sends to the configured queue, and a message SQS refuses or does not
 * acknowledge rejects rather than passing for queued.
 */
import { randomUUID } from "node:crypto";
import { SendMessageCommand, SQSClient, type SendMessageCommandInput } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { SqsMessageQueue } from "../../functions/adapters/sqs-message-queue.js";
import { describeMessageQueueContract, MAX_MESSAGE_BYTES } from "./message-queue-contract.js";

const QUEUE_URL = "https://sqs.eu-west-2.amazonaws.com/123456789012/MessagesQueue";

/**
 * Stands in for SQS: records every SendMessage, refuses what SQS refuses (a DelaySeconds that is not
 * a whole number in 0..900, a body over 256 KiB), and delivers a message once its DelaySeconds has passed.
 */
function fakeSqs(client: SQSClient) {
  const sqsMock = mockClient(client);
  const sent: { messageId: string; input: SendMessageCommandInput }[] = [];
  sqsMock.on(SendMessageCommand).callsFake((input: SendMessageCommandInput) => {
    const delay = input.DelaySeconds;
    if (delay !== undefined && !(Number.isInteger(delay) && delay >= 0 && delay <= 900)) {
      throw Object.assign(
        new Error(
          `Value ${delay} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, if provided.`,
        ),
        { name: "InvalidParameterValue" },
      );
    }
    if (Buffer.byteLength(input.MessageBody ?? "") > MAX_MESSAGE_BYTES) {
      throw Object.assign(
        new Error(
          `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`,
        ),
        { name: "InvalidParameterValue" },
      );
    }
    const messageId = randomUUID();
    sent.push({ messageId, input });
    return { MessageId: messageId, MD5OfMessageBody: "ignored" };
  });
  return { sqsMock, sent };
}

describeMessageQueueContract("SqsMessageQueue", async () => {
  const client = new SQSClient({ region: "eu-west-2", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const { sqsMock, sent } = fakeSqs(client);
  return {
    queue: new SqsMessageQueue(QUEUE_URL, client),
    deliverableAfter: async (seconds) =>
      new Map(
        sent
          .filter((s) => (s.input.DelaySeconds ?? 0) <= seconds)
          .map((s) => [s.messageId, JSON.parse(s.input.MessageBody!) as unknown]),
      ),
    close: async () => {
      sqsMock.restore();
      client.destroy();
    },
  };
});

describe("SqsMessageQueue (SQS specifics)", () => {
  const client = new SQSClient({ region: "eu-west-2", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  let fake: ReturnType<typeof fakeSqs>;
  const queue = new SqsMessageQueue(QUEUE_URL, client);

  beforeEach(() => {
    fake?.sqsMock.restore();
    fake = fakeSqs(client);
  });

  afterAll(() => {
    fake.sqsMock.restore();
    client.destroy();
  });

  it("sends to the configured queue URL with the body as JSON text", async () => {
    // Act
    await queue.send({ requestId: "req-1" });

    // Assess
    expect(fake.sent.map((s) => s.input)).toEqual([
      { QueueUrl: QUEUE_URL, MessageBody: '{"requestId":"req-1"}', DelaySeconds: undefined },
    ]);
  });

  it.each([
    [1.4, 1],
    [1.6, 2],
    [900.4, 900],
    [-0.4, 0],
  ])("rounds a delay of %s seconds to %s, the whole seconds SQS accepts", async (asked, sent) => {
    // Act
    await queue.send({ n: 1 }, { delaySeconds: asked });

    // Assess
    expect(fake.sent.map((s) => s.input.DelaySeconds)).toEqual([sent]);
  });

  it("rejects when SQS answers without a message id", async () => {
    // Prepare
    fake.sqsMock.on(SendMessageCommand).resolves({});

    // Act
    const attempt = queue.send({ n: 1 });

    // Assess
    await expect(attempt).rejects.toThrow("SQS accepted the message without a message id.");
  });

  it("rejects when SQS refuses the message", async () => {
    // Prepare
    fake.sqsMock
      .on(SendMessageCommand)
      .rejects(Object.assign(new Error("Service unavailable"), { name: "ServiceUnavailable" }));

    // Act
    const attempt = queue.send({ n: 1 });

    // Assess
    await expect(attempt).rejects.toThrow("Service unavailable");
  });
});
