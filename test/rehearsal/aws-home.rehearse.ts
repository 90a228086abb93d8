/**
 * The AWS home keeps the core guarantees as deployed (each batch created once, no function denied or
 * crashed, no secret in a log): the core scenarios (issue 12, step 5), played through the rehearsed
 * AWS home (support/rehearsal.ts) in order, on one stage. What the PassEntry sandbox received is counted after each; at the end,
 * every batch it holds was created once, no function was denied or crashed, and no secret reached a log.
 */
import { createHmac, randomUUID } from "node:crypto";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { afterAll, beforeAll, describe as suite, expect, it } from "vitest";
import { stageSettings } from "../../infra/stage-config.js";
import { busRules, queues, schedules } from "../infra/synthesis/stack-model.js";
import { policyProblems, trustProblems } from "../infra/synthesis/stage-checks.js";
import { IamChecker } from "./support/iam-check.js";
import { describe, SECRETS, startStage, waitFor, type Stage } from "./support/stage.js";
import { parseBatchMarker } from "../../functions/core/batch-rules.js";

/** PassEntry's own example request (docs.passentry.com), unchanged. */
const PASSENTRY_EXAMPLE = {
  batch: { message: "Hello, World!", segments: [{ groupTag: "summerPromotion" }], scheduledAt: "2030-03-31T13:16:26Z" },
};

suite("the AWS home, rehearsed from its synthesized resources", () => {
  let stage: Stage;
  let outputs: Record<string, string>;
  let exampleId: string;

  beforeAll(async () => {
    stage = await startStage();
    outputs = stage.rehearsal.synthesis.outputs as Record<string, string>;
  });
  afterAll(async () => {
    await stage?.close();
  });

  /** A stack output (`sst deploy` prints them), e.g. MessagesQueueUrl. */
  const output = (name: string): string => {
    const value = outputs[name];
    if (!value) throw new Error(`The synthesized stack has no output ${name}.`);
    return value;
  };
  const json = async (response: Response) => ({
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as any,
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    stage.api(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  /** The console's session cookie (set by the console scenario) and its forms' CSRF token. */
  let cookie = "";
  const csrfIn = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
  const consoleAction = (path: string, csrf: string) =>
    stage.api(path, {
      method: "POST",
      key: null,
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf }).toString(),
    });
  const submitted = (requestId: string) =>
    waitFor(`request ${requestId} to reach PassEntry`, () => stage.batchesFor(requestId).length > 0, stage);

  it("answers /health through API Gateway's route", async () => {
    const { status, body } = await json(await stage.api("/health", { key: null }));
    expect(status).toBe(200);
    expect(body.status).toBe("ok");
  });

  it("accepts PassEntry's own example request and delivers it once, also when the caller retries", async () => {
    const first = await json(
      await post("/api/v1/entities/my-entity/messaging/wallet", PASSENTRY_EXAMPLE, { "idempotency-key": "order-1001" }),
    );
    expect(first.status, describe(stage)).toBe(202);
    exampleId = first.body.data.id;

    await submitted(exampleId);
    const retry = await json(
      await post("/api/v1/entities/my-entity/messaging/wallet", PASSENTRY_EXAMPLE, { "idempotency-key": "order-1001" }),
    );

    expect(retry.status).toBe(202);
    expect(retry.body.data.id).toBe(exampleId);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    const [batch] = stage.batchesFor(exampleId);
    expect(batch!.entityId).toBe("my-entity");
    expect(batch!.body.batch).toMatchObject({
      message: "Hello, World!",
      segments: [{ groupTag: "summerPromotion" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(stage.postsFor(exampleId)).toBe(1);
  });

  it("reads a request's status: submitted, with PassEntry's batch", async () => {
    await waitFor(
      "the status to say submitted",
      async () =>
        (await json(await stage.api(`/api/v1/requests/${exampleId}`))).body.data?.attributes?.status === "submitted",
      stage,
    );
    const { status, body } = await json(await stage.api(`/api/v1/requests/${exampleId}`));

    expect(status).toBe(200);
    expect(body.data.attributes.batchId).toBe(stage.batchesFor(exampleId)[0]!.id);
    expect((await stage.api(`/api/v1/requests/${exampleId}`, { key: "not-a-key" })).status).toBe(401);
  });

  it("lists requests newest first, a caller's through the ByCaller index and an operator's through ByCreatedAt, filtered and paged", async () => {
    const second = await json(
      await post("/api/v1/entities/list-entity/messaging/wallet", {
        batch: { message: "Listed", recipients: [{ passId: "pass-list-1" }], scheduledAt: "2030-04-02T09:00:00Z" },
      }),
    );
    const secondId = second.body.data.id as string;
    await submitted(secondId);
    await waitFor(
      "the list to show it submitted",
      async () =>
        (await json(await stage.api("/api/v1/requests?entity=list-entity"))).body.data?.[0]?.attributes?.status ===
        "submitted",
      stage,
    );

    const all = await json(await stage.api("/api/v1/requests"));
    const byPass = await json(await stage.api("/api/v1/requests?pass=pass-list-1"));
    const firstPage = await json(await stage.api("/api/v1/requests?limit=1"));
    const secondPage = await json(await stage.api(firstPage.body.links.next));
    const operators = await json(await stage.api("/api/v1/requests?limit=100", { key: SECRETS.operatorKey }));

    expect(all.status, describe(stage)).toBe(200);
    expect(all.body.data.map((e: { id: string }) => e.id).slice(0, 2)).toEqual([secondId, exampleId]);
    expect(byPass.body.data.map((e: { id: string }) => e.id)).toEqual([secondId]);
    expect(firstPage.body.data.map((e: { id: string }) => e.id)).toEqual([secondId]);
    expect(secondPage.body.data.map((e: { id: string }) => e.id)).toEqual([exampleId]);
    expect(operators.status, describe(stage)).toBe(200);
    expect(operators.body.data.map((e: { id: string }) => e.id)).toEqual(expect.arrayContaining([secondId, exampleId]));
    expect((await stage.api("/api/v1/requests", { key: "not-a-key" })).status).toBe(401);
  });

  it("shares PassEntry batches among one caller's one-recipient requests that arrive together (issue 14)", async () => {
    const template = { message: "Thanks for your order, %{name}", scheduledAt: "2030-03-31T13:16:26Z" };
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post("/api/v1/entities/my-entity/messaging/wallet", {
          batch: { ...template, recipients: [{ passId: `order-pass-${i}`, variables: { name: `Customer ${i}` } }] },
        }).then(json),
      ),
    );
    const ids = answers.map((a) => a.body.data.id as string);
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(202));

    const status = async (id: string) => (await json(await stage.api(`/api/v1/requests/${id}`))).body.data.attributes;
    await waitFor(
      "every request to be submitted",
      async () => (await Promise.all(ids.map(status))).every((a) => a.status === "submitted"),
      stage,
      30_000,
    );

    const views = await Promise.all(ids.map(status));
    // Two pollers may split one arrival into two deliveries (a delivery holding one of them sends it
    // alone); far fewer PassEntry calls than requests either way.
    expect(new Set(views.map((v) => v.batchId)).size).toBeLessThanOrEqual(3);
    const shared = views.filter((v) => v.batches[0].sharedBatch !== null);
    expect(shared.length).toBeGreaterThanOrEqual(10);
    for (const view of shared)
      expect(view.batches[0], JSON.stringify(view.batches[0])).toMatchObject({
        state: "sent",
        totalCount: 1,
        sharedBatch: { groupId: expect.stringMatching(/^grp-/) },
      });
    const passes = stage.sandbox
      .batches()
      .flatMap((b) => (b.body.batch.recipients ?? []).map((r: { passId: string }) => r.passId))
      .filter((p: string) => p.startsWith("order-pass-"));
    expect(passes.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `order-pass-${i}`).sort());
  });

  it("serves the operator console behind the API: sign-in exchanges the operator key for a cookie, and the pages read the table and both queues", async () => {
    const signInPage = await stage.api("/", { key: null });
    const signIn = await stage.api("/console/sign-in", {
      method: "POST",
      key: null,
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ key: SECRETS.operatorKey }).toString(),
    });
    cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0]!;
    const home = await stage.api("/", { key: null, headers: { cookie } });
    const detail = await stage.api(`/console/requests/${exampleId}`, { key: null, headers: { cookie } });
    const homeText = await home.text();

    expect(await signInPage.text()).toContain("Sign in");
    expect(signIn.status, describe(stage)).toBe(303);
    expect(signIn.headers.get("set-cookie")).toMatch(/HttpOnly; SameSite=Strict; Max-Age=\d+; Secure/);
    expect(home.status, describe(stage)).toBe(200);
    expect(homeText).toContain(exampleId);
    expect(homeText).toContain("SQS does not tell the oldest message");
    expect(await detail.text()).toContain(stage.batchesFor(exampleId)[0]!.id);
    expect(homeText).not.toContain(SECRETS.operatorKey);
    expect(homeText).not.toContain(SECRETS.apiKey);
  });

  it("cancels a scheduled request from the console: its batch is cancelled at PassEntry", async () => {
    const accepted = await json(
      await post("/api/v1/entities/my-entity/messaging/wallet", {
        batch: {
          message: "Cancel me from the console",
          segments: [{ groupTag: "vip" }],
          scheduledAt: "2030-04-03T09:00:00Z",
        },
      }),
    );
    const requestId = accepted.body.data.id as string;
    await submitted(requestId);
    const page = await (await stage.api(`/console/requests/${requestId}`, { key: null, headers: { cookie } })).text();

    const cancel = await consoleAction(`/console/requests/${requestId}/cancel`, csrfIn(page));

    expect(cancel.status, describe(stage)).toBe(303);
    await waitFor(
      "PassEntry's batch to be cancelled",
      () => stage.batchesFor(requestId)[0]?.status === "cancelled",
      stage,
    );
    expect(stage.postsFor(requestId)).toBe(1);
  });

  it("cancels a request: the batch PassEntry holds is cancelled there", async () => {
    const accepted = await json(
      await post("/api/v1/entities/my-entity/messaging/wallet", {
        batch: { message: "Cancel me", segments: [{ groupTag: "vip" }], scheduledAt: "2030-04-01T09:00:00Z" },
      }),
    );
    const requestId = accepted.body.data.id as string;
    await submitted(requestId);

    const cancel = await stage.api(`/api/v1/requests/${requestId}`, { method: "DELETE" });

    expect(cancel.status, describe(stage)).toBe(202);
    await waitFor(
      "PassEntry's batch to be cancelled",
      () => stage.batchesFor(requestId)[0]?.status === "cancelled",
      stage,
    );
    await waitFor(
      "the status to say cancelled",
      async () =>
        (await json(await stage.api(`/api/v1/requests/${requestId}`))).body.data?.attributes?.status === "cancelled",
      stage,
    );
    expect(stage.postsFor(requestId)).toBe(1);
  });

  it("plans a promotion occurrence when Scheduler fires the promotion's schedule, and sends it once", async () => {
    const enabled = schedules(stage.rehearsal.synthesis).filter((s) => s.enabled);
    expect(enabled.length, "the rehearsal's promotions.json enables one promotion").toBeGreaterThan(0);
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);

    const firing = await stage.rehearsal.fireSchedule(enabled[0]!, hour);

    expect(firing.attempts.at(-1)?.ok, describe(stage)).toBe(true);
    const plan = firing.attempts.at(-1)!.result as {
      status: string;
      occurrences: { requestId: string; outcome: string }[];
    };
    expect(plan.status).toBe("planned");
    // The trigger's own hour, plus any occurrence it re-checks between one hour ahead and its lead time.
    const queued = plan.occurrences.filter((o) => !o.outcome.startsWith("skipped"));
    expect(queued.length).toBeGreaterThan(0);
    for (const occurrence of queued) await submitted(occurrence.requestId);
    // Scheduler delivers at least once: a second firing of the same hour sends nothing new.
    const again = await stage.rehearsal.fireSchedule(enabled[0]!, hour);
    expect(again.attempts.at(-1)?.ok).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const occurrence of queued) {
      expect(stage.postsFor(occurrence.requestId)).toBe(1);
      // A promotion's request belongs to no caller: an operator reads it.
      const status = await json(
        await stage.api(`/api/v1/requests/${occurrence.requestId}`, { key: SECRETS.operatorKey }),
      );
      expect(status.body.data.attributes.status).toBe("submitted");
    }
  });

  it("turns a signed PassEntry webhook into the automation's message to that pass", async () => {
    const passId = randomUUID();
    const body = JSON.stringify({
      data: {
        id: `evt-${randomUUID()}`,
        type: "webhook",
        attributes: { timeStamp: new Date().toISOString(), webhookType: "passInstalled" },
        relationships: { pass: { data: { id: passId, type: "pass" } } },
      },
      included: [{ id: passId, type: "pass", attributes: { passContent: { fullName: "Jane Smith" } } }],
    });
    const signature = createHmac("sha256", SECRETS.passEntryWebhookSecret).update(body).digest("hex");

    const answer = await json(
      await stage.api("/webhooks/passentry", {
        method: "POST",
        key: null,
        headers: { "content-type": "application/json", "x-webhook-signature": signature },
        body,
      }),
    );

    expect(answer.status, describe(stage)).toBe(202);
    const requestId = answer.body.data.attributes.requests[0].requestId as string;
    await submitted(requestId);
    expect(stage.batchesFor(requestId)[0]!.body.batch.recipients).toEqual([expect.objectContaining({ passId })]);
    expect(
      (
        await stage.api("/webhooks/passentry", {
          method: "POST",
          key: null,
          headers: { "content-type": "application/json", "x-webhook-signature": "0".repeat(64) },
          body,
        })
      ).status,
    ).toBe(401);
  });

  it("delivers a WalletMessageRequested event another service puts on the bus, through the bus rule to the queue", async () => {
    const requestId = `order-${randomUUID()}-thanks`;
    const detail = {
      requestId,
      entityId: "my-entity",
      batch: { message: "Thanks for your order!", segments: [{ groupTag: "vip" }] },
    };

    const put = await stage.rehearsal.operator.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: output("WalletBusName"),
            Source: "shop.orders",
            DetailType: "WalletMessageRequested",
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    );

    expect(put.FailedEntryCount).toBe(0);
    await submitted(requestId);
    expect(stage.postsFor(requestId)).toBe(1);
  });

  it("lets EventBridge put on the queue for our rule only: a rule in another account that knows the queue's ARN is refused", async () => {
    const queue = queues(stage.rehearsal.synthesis).find((q) => q.url === output("MessagesQueueUrl"))!;
    const [ours] = busRules(stage.rehearsal.synthesis);
    const { region, accountId } = stage.rehearsal.synthesis.app;
    const ourRuleArn = `arn:aws:events:${region}:${accountId}:rule/${ours!.busName}/${ours!.name}`;
    const iam = new IamChecker(accountId);

    const ourDelivery = await iam.checkServiceDelivery(
      queue.policy,
      "events.amazonaws.com",
      "sqs:SendMessage",
      queue.arn,
      ourRuleArn,
    );
    const foreignDelivery = await iam.checkServiceDelivery(
      queue.policy,
      "events.amazonaws.com",
      "sqs:SendMessage",
      queue.arn,
      `arn:aws:events:${region}:999999999999:rule/attacker-bus/inject`,
    );
    const sameAccountOtherRule = await iam.checkServiceDelivery(
      queue.policy,
      "events.amazonaws.com",
      "sqs:SendMessage",
      queue.arn,
      `arn:aws:events:${region}:${accountId}:rule/default/another-rule`,
    );

    expect(ourDelivery.decision).toBe("Allowed");
    expect(foreignDelivery.decision).not.toBe("Allowed");
    expect(sameAccountOtherRule.decision).not.toBe("Allowed");
  });

  it("leaves events of other types on the bus: the rule's pattern does not route them to the queue", async () => {
    const rejectedBefore = stage.rehearsal.eventBridge.events.filter(
      (e) => e.envelope["detail-type"] === "WalletMessageRequestRejected",
    ).length;
    const orderId = randomUUID();

    const put = await stage.rehearsal.operator.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: output("WalletBusName"),
            Source: "shop.orders",
            DetailType: "OrderShipped",
            Detail: JSON.stringify({ orderId }),
          },
        ],
      }),
    );

    expect(put.FailedEntryCount).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(stage.rehearsal.sqs.bodies(output("MessagesQueueUrl")).some((b) => b.includes(orderId))).toBe(false);
    expect(
      stage.rehearsal.eventBridge.events.filter((e) => e.envelope["detail-type"] === "WalletMessageRequestRejected"),
    ).toHaveLength(rejectedBefore);
  });

  it("delivers a raw SQS message another service sends to the queue", async () => {
    const requestId = `order-${randomUUID()}-sqs`;

    await stage.rehearsal.operator.sqs.send(
      new SendMessageCommand({
        QueueUrl: output("MessagesQueueUrl"),
        MessageBody: JSON.stringify({
          requestId,
          entityId: "my-entity",
          batch: { message: "Your order shipped.", segments: [{ groupTag: "vip" }] },
        }),
      }),
    );

    await submitted(requestId);
    expect(stage.postsFor(requestId)).toBe(1);
  });

  it("drops a message that is not a request, announcing it on the bus instead of retrying it", async () => {
    const sent = await stage.rehearsal.operator.sqs.send(
      new SendMessageCommand({ QueueUrl: output("MessagesQueueUrl"), MessageBody: "{not json" }),
    );

    await waitFor(
      "a WalletMessageRequestRejected event",
      () =>
        stage.rehearsal.eventBridge.events.some(
          (e) =>
            e.envelope["detail-type"] === "WalletMessageRequestRejected" &&
            (e.envelope.detail as { messageId?: string }).messageId === sent.MessageId,
        ),
      stage,
    );
    expect(stage.rehearsal.sqs.bodies(output("DeadLetterQueueUrl"))).not.toContain("{not json");
  });

  it("dead-letters a message that fails every receive, and a redrive sends it once and nothing twice", {
    timeout: 200_000,
  }, async () => {
    const main = queues(stage.rehearsal.synthesis).find((q) => q.url === output("MessagesQueueUrl"))!;
    const maxReceives = main.redrivePolicy!.maxReceiveCount;
    const requestId = `order-${randomUUID()}-outage`;
    // PassEntry refuses our token (rotated there, not yet here): every attempt fails, and is retried.
    stage.sandbox.setTokens(["rotated-at-passentry"]);
    const sent = await stage.rehearsal.operator.sqs.send(
      new SendMessageCommand({
        QueueUrl: output("MessagesQueueUrl"),
        MessageBody: JSON.stringify({
          requestId,
          entityId: "my-entity",
          batch: { message: "Back soon", segments: [{ groupTag: "vip" }] },
        }),
      }),
    );
    // Every receive is one invocation after the batching window: 50 receives take about a minute.
    await waitFor(
      "the failing message to be dead-lettered",
      () => stage.rehearsal.sqs.depth(output("DeadLetterQueueUrl")).visible === 1,
      stage,
      150_000,
    );
    const receives = stage.rehearsal.pollers
      .flatMap((p) => p.invocations)
      .filter((i) => i.messageIds.includes(sent.MessageId!)).length;
    expect(receives).toBe(maxReceives);
    // Beside it, a copy of a request PassEntry already has (as after deletes that kept failing).
    await stage.rehearsal.operator.sqs.send(
      new SendMessageCommand({
        QueueUrl: output("DeadLetterQueueUrl"),
        MessageBody: JSON.stringify({ requestId: exampleId, entityId: "my-entity", ...PASSENTRY_EXAMPLE }),
      }),
    );
    stage.sandbox.setTokens([SECRETS.passEntryToken]);

    // The operator console's Redrive button: the Console function starts SQS's message-move task, with only its granted actions.
    // A raw SQS message's request belongs to no caller: an operator reads it.
    const dead = await json(await stage.api(`/api/v1/requests/${requestId}`, { key: SECRETS.operatorKey }));
    expect(dead.body.data.attributes.status, "the sender recorded the last failed receive on the request").toBe(
      "deadLettered",
    );
    expect(dead.body.data.attributes.deadLetter).toMatchObject({ kind: "send", receiveCount: maxReceives });
    const home = await (await stage.api("/", { key: null, headers: { cookie } })).text();
    expect(home).toContain(requestId);
    const redrive = await consoleAction("/console/redrive", csrfIn(home));
    expect(redrive.status, describe(stage)).toBe(303);

    await submitted(requestId);
    await waitFor(
      "both redriven messages to be handled",
      () =>
        stage.rehearsal.sqs.depth(output("MessagesQueueUrl")).visible +
          stage.rehearsal.sqs.depth(output("MessagesQueueUrl")).inFlight ===
        0,
      stage,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(stage.postsFor(requestId)).toBe(1);
    expect(stage.postsFor(exampleId)).toBe(1);
    expect(stage.rehearsal.sqs.depth(output("DeadLetterQueueUrl")).visible).toBe(0);
    expect(
      (await json(await stage.api(`/api/v1/requests/${requestId}`, { key: SECRETS.operatorKey }))).body.data.attributes
        .deadLetter,
    ).toBeNull();
  });

  it("saw no call AWS would refuse, no crash, no duplicate batch and no secret in any log", () => {
    expect(stage.rehearsal.problems()).toEqual([]);
    // Each function had what it used (no denial above), and holds nothing check:infra forbids.
    const synthesis = stage.rehearsal.synthesis;
    expect([...policyProblems(synthesis, stageSettings(synthesis.app.stage)), ...trustProblems(synthesis)]).toEqual([]);
    // One batch per part: the part a batch's marker names (request id + chunk), not the marker's POST time.
    const markers = stage.sandbox.batches().map((b) => {
      const marker = parseBatchMarker(b.name);
      return marker ? `${marker.requestId}#${marker.chunk}` : b.name;
    });
    expect(markers.length).toBeGreaterThanOrEqual(6);
    expect(new Set(markers).size, "a batch was created twice").toBe(markers.length);
    const logs = stage.rehearsal.host.logs.map((l) => l.line).join("\n");
    for (const secret of Object.values(SECRETS)) expect(logs).not.toContain(secret);
    // Every function the scenarios reached made its AWS calls through the gateway, signed as itself.
    const callers = new Set(stage.rehearsal.gateway.calls.map((c) => c.caller));
    expect(callers.has("unknown signer (unsigned)")).toBe(false);
  });
});
