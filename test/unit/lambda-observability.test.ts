/**
 * What the AWS functions write for an operator: every log line of an invocation carries its Lambda
 * request id (Powertools Logger given the context), and the UnknownOutcomes metric is one EMF line
 * whose namespace, name and dimensions are exactly those the stage's alarm watches (so the alarm
 * can fire, and a stage sharing the account does not page this one).
 */
import { readFileSync } from "node:fs";
import type { Context } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { alarms, SERVICE_NAME } from "../../infra/manifest.js";
import { powertoolsUnknownOutcomeMetrics } from "../../functions/adapters/powertools-metrics.js";
import { awsLog, withLambdaContext } from "../../functions/wiring/aws-base.js";

let lines: string[];

beforeEach(() => {
  lines = [];
  // Powertools writes info to stdout and warnings and errors to stderr; Lambda sends both to the log group.
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      return true;
    });
  }
});
afterEach(() => vi.restoreAllMocks());

const context = (awsRequestId: string): Context =>
  ({
    awsRequestId,
    functionName: "wallet-messaging-test-Accept",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:eu-west-2:123456789012:function:wallet-messaging-test-Accept",
    memoryLimitInMB: "512",
    getRemainingTimeInMillis: () => 10_000,
  }) as unknown as Context;

describe("withLambdaContext", () => {
  it("puts the invocation's request id on every line the invocation logs, and the next invocation's on its own", async () => {
    const handler = withLambdaContext(async (event: { n: number }) => {
      awsLog().info("first", { n: event.n });
      awsLog().warn("second", { n: event.n });
      return event.n;
    });

    await handler({ n: 1 }, context("req-aaa"));
    await handler({ n: 2 }, context("req-bbb"));

    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.map((l) => [l.message, l.function_request_id])).toEqual([
      ["first", "req-aaa"],
      ["second", "req-aaa"],
      ["first", "req-bbb"],
      ["second", "req-bbb"],
    ]);
    expect(logged[0]).toMatchObject({ function_name: "wallet-messaging-test-Accept", function_memory_size: "512" });
  });

  it("wraps every AWS handler that logs", () => {
    for (const name of [
      "accept",
      "passentry-webhook",
      "planner",
      "request-cancel",
      "request-resolve",
      "request-status",
      "sender",
    ]) {
      expect(readFileSync(`functions/handlers/${name}.ts`, "utf8"), name).toMatch(
        /export const handler = withLambdaContext\(/,
      );
    }
  });
});

describe("the UnknownOutcomes metric", () => {
  it("is one EMF line with exactly the namespace, name and dimensions of the stage's alarm", () => {
    const metrics = powertoolsUnknownOutcomeMetrics({ serviceName: SERVICE_NAME, stage: "production" });

    metrics.unknownOutcome({ requestId: "r-1", chunk: 2 });

    expect(lines).toHaveLength(1);
    const emf = JSON.parse(lines[0]!) as {
      _aws: {
        CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
      };
    } & Record<string, unknown>;
    const [directive] = emf._aws.CloudWatchMetrics;
    const alarm = alarms.find((a) => a.name === "UnknownOutcomes")!;
    // The alarm's dimensions as infra/alarms.ts writes them for the stage "production".
    const alarmDimensions = { service: SERVICE_NAME, Stage: "production" };
    expect(directive!.Namespace).toBe(alarm.namespace);
    expect(directive!.Metrics).toEqual([{ Name: alarm.metric, Unit: "Count" }]);
    expect([...directive!.Dimensions[0]!].sort()).toEqual(Object.keys(alarmDimensions).sort());
    for (const [name, value] of Object.entries(alarmDimensions)) expect(emf[name]).toBe(value);
    expect(emf[alarm.metric]).toBe(1);
    expect(emf).toMatchObject({ requestId: "r-1", chunk: "2" });
  });
});
