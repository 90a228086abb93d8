/**
 * SQS for the rehearsal: fauxqs (an SQS emulator speaking the SDK's JSON protocol, with visibility
 * timeouts, receive counts and redrive) holding one queue per synthesized queue, created with the
 * synthesized attributes (visibility timeout, retention, delay, maximum size, redrive policy).
 *
 * fauxqs names queues under its own account and host, so requests are translated: the synthesized
 * URL and ARN of each queue become fauxqs's on the way in, and back on the way out. fauxqs 1.9 has
 * no StartMessageMoveTask; the stand-in performs it (every message of the dead-letter queue goes
 * back to the queue whose redrive policy names it), as SQS's redrive does.
 */
import { ReceiveMessageCommand, SendMessageCommand, DeleteMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { startFauxqs, type FauxqsServer } from "fauxqs";
import type { QueueView } from "../../../infra/synthesis/stack-model.js";

/** SQS's default maximum message size (256 KiB); fauxqs defaults to 1 MiB. */
const AWS_DEFAULT_MAX_MESSAGE_SIZE = 262_144;

export interface LocalQueue {
  view: QueueView;
  url: string;
  arn: string;
}

export class SqsStandIn {
  readonly client: SQSClient;
  private readonly byArn = new Map<string, LocalQueue>();
  private readonly byUrl = new Map<string, LocalQueue>();

  private constructor(
    private readonly server: FauxqsServer,
    queues: QueueView[],
    region: string,
  ) {
    this.client = new SQSClient({
      endpoint: server.address,
      region,
      credentials: { accessKeyId: "standin", secretAccessKey: "standin" },
      maxAttempts: 1,
    });
    // Dead-letter queues first: a redrive policy must name a queue that exists.
    const ordered = [...queues].sort((a, b) => Number(Boolean(a.redrivePolicy)) - Number(Boolean(b.redrivePolicy)));
    for (const view of ordered) {
      const attributes: Record<string, string> = {
        VisibilityTimeout: String(view.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(view.messageRetentionSeconds),
        DelaySeconds: String(view.delaySeconds),
        ReceiveMessageWaitTimeSeconds: String(view.receiveWaitTimeSeconds),
        MaximumMessageSize: String(view.maxMessageSize ?? AWS_DEFAULT_MAX_MESSAGE_SIZE),
      };
      if (view.fifo) attributes.FifoQueue = "true";
      if (view.redrivePolicy) {
        const target = this.byArn.get(view.redrivePolicy.deadLetterTargetArn);
        if (!target)
          throw new Error(
            `Queue ${view.name} dead-letters to ${view.redrivePolicy.deadLetterTargetArn}, which the synthesis did not create.`,
          );
        attributes.RedrivePolicy = JSON.stringify({
          deadLetterTargetArn: target.arn,
          maxReceiveCount: view.redrivePolicy.maxReceiveCount,
        });
      }
      const created = server.createQueue(view.name, { region, attributes });
      const local = { view, url: created.queueUrl, arn: created.queueArn };
      this.byArn.set(view.arn, local);
      this.byUrl.set(view.url, local);
    }
  }

  static async start(queues: QueueView[], region: string): Promise<SqsStandIn> {
    const server = await startFauxqs({ port: 0, logger: false, defaultRegion: region, host: "127.0.0.1" });
    return new SqsStandIn(server, queues, region);
  }

  queue(synthesizedArnOrUrl: string): LocalQueue {
    const local = this.byArn.get(synthesizedArnOrUrl) ?? this.byUrl.get(synthesizedArnOrUrl);
    if (!local) throw new Error(`No synthesized queue has the ARN or URL ${synthesizedArnOrUrl}.`);
    return local;
  }

  queueArnForUrl(url: string): string | undefined {
    return this.byUrl.get(url)?.view.arn;
  }

  /** Messages by state, read without receiving them. */
  depth(synthesizedArnOrUrl: string): { visible: number; inFlight: number; delayed: number } {
    const inspected = this.server.inspectQueue(this.queue(synthesizedArnOrUrl).view.name);
    return {
      visible: inspected?.messages.ready.length ?? 0,
      inFlight: inspected?.messages.inflight.length ?? 0,
      delayed: inspected?.messages.delayed.length ?? 0,
    };
  }

  bodies(synthesizedArnOrUrl: string): string[] {
    const m = this.server.inspectQueue(this.queue(synthesizedArnOrUrl).view.name)?.messages;
    return m ? [...m.ready, ...m.delayed, ...m.inflight.map((i) => i.message)].map((x) => x.body) : [];
  }

  /** Forwards one SDK request to fauxqs, translating synthesized URLs and ARNs both ways. */
  async forward(
    operation: string,
    rawBody: string,
    headers: Record<string, string>,
  ): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    if (operation === "StartMessageMoveTask") return this.startMessageMoveTask(JSON.parse(rawBody || "{}"));
    const response = await fetch(this.server.address, { method: "POST", headers, body: this.translate(rawBody, "in") });
    const body = this.translate(await response.text(), "out");
    const out: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      if (key !== "content-length" && key !== "transfer-encoding" && key !== "connection") out[key] = value;
    });
    return { status: response.status, headers: out, body };
  }

  private translate(text: string, direction: "in" | "out"): string {
    let result = text;
    for (const local of this.byArn.values()) {
      const pairs: [string, string][] = [
        [local.view.url, local.url],
        [local.view.arn, local.arn],
      ];
      for (const [synthesized, emulated] of pairs) {
        result =
          direction === "in" ? result.split(synthesized).join(emulated) : result.split(emulated).join(synthesized);
      }
    }
    return result;
  }

  private async startMessageMoveTask(body: { SourceArn?: string; DestinationArn?: string }) {
    const source = this.byArn.get(String(body.SourceArn));
    if (!source)
      return {
        status: 400,
        headers: { "content-type": "application/x-amz-json-1.0" },
        body: JSON.stringify({
          __type: "com.amazonaws.sqs#ResourceNotFoundException",
          message: "The resource that you specified for the SourceArn parameter doesn't exist.",
        }),
      };
    const destination = body.DestinationArn
      ? this.byArn.get(body.DestinationArn)
      : [...this.byArn.values()].find((q) => q.view.redrivePolicy?.deadLetterTargetArn === source.view.arn);
    if (!destination)
      return {
        status: 400,
        headers: { "content-type": "application/x-amz-json-1.0" },
        body: JSON.stringify({
          __type: "com.amazonaws.sqs#InvalidParameterValue",
          message: "No queue dead-letters to this queue, and no DestinationArn was given.",
        }),
      };
    for (;;) {
      const answer = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: source.url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 30,
        }),
      );
      if (!answer.Messages?.length) break;
      for (const m of answer.Messages) {
        await this.client.send(new SendMessageCommand({ QueueUrl: destination.url, MessageBody: m.Body ?? "" }));
        await this.client.send(new DeleteMessageCommand({ QueueUrl: source.url, ReceiptHandle: m.ReceiptHandle! }));
      }
    }
    return {
      status: 200,
      headers: { "content-type": "application/x-amz-json-1.0" },
      body: JSON.stringify({ TaskHandle: `rehearsal-move-${Date.now()}` }),
    };
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.server.stop();
  }
}
