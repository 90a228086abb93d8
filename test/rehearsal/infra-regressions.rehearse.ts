/**
 * The rehearsal fails where AWS would: on the resource set before issue 12 (the table keyed by `pk`
 * alone, which the adapters' `pk` + `sk` keys do not match), and on a role missing one permission its
 * function needs (named: function, action, resource). Each runs PassEntry's example request through
 * a stage built from a broken copy of the synthesis. And where AWS would not lose what fails: a
 * promotion trigger the planner throws on lands on its on-failure destination, a bus event the queue
 * refuses lands on the rule target's dead-letter queue (both alarmed, issue 13).
 */
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { afterEach, describe as suite, expect, it } from "vitest";
import { lambdaFunctions, queues, schedules } from "../infra/synthesis/stack-model.js";
import { withHashKeyOnlyTables, withoutPermission } from "./support/mutations.js";
import { describe, loadSynthesis, startStage, waitFor, type Stage } from "./support/stage.js";

const EXAMPLE = JSON.stringify({
  batch: { message: "Hello, World!", segments: [{ groupTag: "summerPromotion" }], scheduledAt: "2030-03-31T13:16:26Z" },
});
const KEY_SCHEMA_ERROR = "ValidationException: The provided key element does not match the schema";

suite("the rehearsal on a broken resource set", () => {
  let stage: Stage | undefined;
  afterEach(async () => {
    await stage?.close();
    stage = undefined;
  });

  const sendExample = (s: Stage) =>
    s.api("/api/v1/entities/my-entity/messaging/wallet", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: EXAMPLE,
    });

  it("fails with DynamoDB's key-schema error when the table has a hash key only, as infra/ledger.ts had it", async () => {
    stage = await startStage({ synthesis: withHashKeyOnlyTables(loadSynthesis()) });
    const s = stage;

    const answer = await sendExample(s);
    const requestId = ((await answer.json()) as { data?: { id?: string } }).data?.id;
    await waitFor(
      "the sender to meet the key-schema error",
      () =>
        s.rehearsal.gateway.describeErrors().some((e) => e.includes("sender.handler") && e.includes(KEY_SCHEMA_ERROR)),
      s,
    );

    const errors = s.rehearsal.gateway.describeErrors();
    expect(
      errors.some((e) => e.includes("accept.handler") && e.includes(KEY_SCHEMA_ERROR)),
      errors.join("\n"),
    ).toBe(true);
    expect(s.sandbox.batches(), "nothing may reach PassEntry").toEqual([]);
    if (requestId) expect((await s.api(`/api/v1/requests/${requestId}`)).status).toBe(500);
  });

  it("fails naming the function, the action and the resource when a role lacks a permission its function uses", async () => {
    const synthesis = loadSynthesis();
    const tokenArn = (synthesis.outputs as Record<string, string>).PassEntryTokenSecretArn!;
    const broken = withoutPermission(synthesis, {
      sourceHandler: "functions/handlers/sender.handler",
      action: "secretsmanager:GetSecretValue",
      resource: tokenArn,
    });
    const sender = lambdaFunctions(broken).find((f) => f.sourceHandler === "functions/handlers/sender.handler")!;
    stage = await startStage({ synthesis: broken });
    const s = stage;

    expect((await sendExample(s)).status).toBe(202);
    await waitFor("the denied call", () => s.rehearsal.problems().length > 0, s);

    expect(s.rehearsal.problems()[0]).toBe(
      `AWS would deny ${sender.label} secretsmanager:GetSecretValue on ${tokenArn} (ImplicitlyDenied).`,
    );
    expect(s.rehearsal.gateway.denials[0]).toEqual({
      function: sender.label,
      action: "secretsmanager:GetSecretValue",
      resource: tokenArn,
      decision: "ImplicitlyDenied",
    });
    expect(s.sandbox.batches(), describe(s)).toEqual([]);
  });

  it("hands a promotion trigger the planner failed on every attempt to PromotionFailuresQueue, which is alarmed, instead of dropping it", async () => {
    const synthesis = loadSynthesis();
    const outputs = synthesis.outputs as Record<string, string>;
    // The planner may no longer queue: every attempt throws after storing the occurrence.
    const broken = withoutPermission(synthesis, {
      sourceHandler: "functions/handlers/planner.handler",
      action: "sqs:SendMessage",
      resource: outputs.MessagesQueueArn!,
    });
    stage = await startStage({ synthesis: broken });
    const s = stage;
    const failures = queues(broken).find((q) => q.url === outputs.PromotionFailuresQueueUrl)!;
    const trigger = schedules(broken).find((sc) => sc.enabled)!;

    const firing = await s.rehearsal.fireSchedule(trigger, new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000));

    expect(firing.attempts.map((a) => a.ok)).toEqual([false, false, false]);
    const [record] = s.rehearsal.sqs.bodies(failures.url).map(
      (b) =>
        JSON.parse(b) as {
          requestContext: { condition: string; approximateInvokeCount: number };
          requestPayload: { promotionId: string };
        },
    );
    expect(record).toMatchObject({
      requestContext: { condition: "RetriesExhausted", approximateInvokeCount: 3 },
      requestPayload: { promotionId: JSON.parse(trigger.target.input!).promotionId },
    });
    expect(s.rehearsal.asyncFailures).toHaveLength(1);
    expect(s.sandbox.batches(), describe(s)).toEqual([]);
  });

  it("parks a bus event the queue refuses on the rule target's dead-letter queue, which is alarmed, instead of dropping it", async () => {
    const synthesis = structuredClone(loadSynthesis());
    const outputs = synthesis.outputs as Record<string, string>;
    // MessagesQueue's policy now names another rule: EventBridge may no longer deliver for ours.
    const policy = synthesis.resources.find(
      (r) => r.type === "aws:sqs/queuePolicy:QueuePolicy" && r.inputs.queueUrl === outputs.MessagesQueueUrl,
    )!;
    policy.inputs.policy = policy.inputs.policy.replace(
      /"aws:SourceArn":"[^"]+"/,
      '"aws:SourceArn":"arn:aws:events:eu-west-2:123456789012:rule/other-bus/other-rule"',
    );
    stage = await startStage({ synthesis });
    const s = stage;
    const requestId = `order-${Date.now()}-parked`;

    await s.rehearsal.operator.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: outputs.WalletBusName,
            Source: "shop.orders",
            DetailType: "WalletMessageRequested",
            Detail: JSON.stringify({
              requestId,
              entityId: "my-entity",
              batch: { message: "Parked", segments: [{ groupTag: "vip" }] },
            }),
          },
        ],
      }),
    );

    await waitFor(
      "the event on BusDeadLetterQueue",
      () => s.rehearsal.sqs.bodies(outputs.BusDeadLetterQueueUrl!).some((b) => b.includes(requestId)),
      s,
    );
    expect(s.rehearsal.eventBridge.failedDeliveries[0]!.reason).toMatch(/went to its dead-letter queue/);
    expect(s.rehearsal.sqs.bodies(outputs.MessagesQueueUrl!).some((b) => b.includes(requestId))).toBe(false);
    expect(s.sandbox.batches()).toEqual([]);
  });
});
