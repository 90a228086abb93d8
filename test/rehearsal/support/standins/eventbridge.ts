/**
 * EventBridge for the rehearsal: the synthesized buses and rules. PutEvents wraps each entry in
 * EventBridge's envelope, matches it against every enabled rule of its bus (the pattern language's
 * exact values, prefix, suffix, anything-but, exists, numeric and equals-ignore-case), and delivers
 * it to each target: an SQS queue gets the envelope as its message body (if the queue's resource
 * policy lets EventBridge send for that rule, as AWS requires), a Lambda function is invoked
 * asynchronously. A delivery AWS would refuse is recorded as a failed invocation.
 */
import { randomUUID } from "node:crypto";
import type { BusRuleView } from "../../../infra/synthesis/stack-model.js";

export interface PutEvent {
  id: string;
  bus: string;
  envelope: Record<string, unknown>;
}

export interface FailedDelivery {
  rule: string;
  target: string;
  reason: string;
}

export interface EventTargets {
  /** Sends a message to a synthesized queue, if its policy lets EventBridge deliver for `ruleArn`; answers why not otherwise. */
  sendToQueue(queueArn: string, body: string, ruleArn: string): Promise<string | undefined>;
  invokeAsync(functionArn: string, event: unknown): void;
}

export class EventBridgeStandIn {
  readonly events: PutEvent[] = [];
  readonly failedDeliveries: FailedDelivery[] = [];

  constructor(
    private readonly buses: { name: string; arn: string }[],
    private readonly rules: (BusRuleView & { arn: string })[],
    private readonly targets: EventTargets,
    private readonly account: { accountId: string; region: string },
  ) {}

  async handle(
    operation: string,
    body: Record<string, any>,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    if (operation !== "PutEvents")
      return {
        status: 400,
        body: {
          __type: "UnsupportedOperation",
          message: `The rehearsal's EventBridge does not implement ${operation}.`,
        },
      };
    const entries = (body.Entries ?? []) as Record<string, any>[];
    const results: Record<string, unknown>[] = [];
    let failed = 0;
    for (const entry of entries) {
      const busRef = String(entry.EventBusName ?? "default");
      const bus = this.buses.find((b) => b.name === busRef || b.arn === busRef);
      if (!bus) {
        failed++;
        results.push({ ErrorCode: "ResourceNotFoundException", ErrorMessage: `Event bus ${busRef} does not exist.` });
        continue;
      }
      let detail: unknown;
      try {
        detail = JSON.parse(String(entry.Detail ?? "{}"));
      } catch {
        failed++;
        results.push({ ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." });
        continue;
      }
      const id = randomUUID();
      const envelope = {
        version: "0",
        id,
        "detail-type": entry.DetailType,
        source: entry.Source,
        account: this.account.accountId,
        time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        region: this.account.region,
        resources: entry.Resources ?? [],
        detail,
      };
      this.events.push({ id, bus: bus.name, envelope });
      results.push({ EventId: id });
      await this.route(bus.name, envelope);
    }
    return { status: 200, body: { FailedEntryCount: failed, Entries: results } };
  }

  private async route(busName: string, envelope: Record<string, unknown>): Promise<void> {
    for (const rule of this.rules) {
      if (!rule.enabled || rule.busName !== busName || !matches(rule.pattern, envelope)) continue;
      for (const target of rule.targets) {
        if (target.inputTransformer)
          throw new Error(
            `Rule ${rule.name} uses an input transformer, which the rehearsal's EventBridge does not implement yet.`,
          );
        const payload =
          target.input !== undefined
            ? JSON.parse(target.input)
            : target.inputPath
              ? pick(envelope, target.inputPath)
              : envelope;
        if (target.arn.startsWith("arn:aws:sqs:")) {
          const refused = await this.targets.sendToQueue(target.arn, JSON.stringify(payload), rule.arn);
          if (refused) {
            // EventBridge puts an event it cannot deliver on the target's dead-letter queue, if it has
            // one and that queue's policy lets EventBridge send for the rule; otherwise it is dropped.
            const parked = target.deadLetterArn
              ? await this.targets.sendToQueue(target.deadLetterArn, JSON.stringify(payload), rule.arn)
              : "it has no dead-letter queue";
            this.failedDeliveries.push({
              rule: rule.name,
              target: target.arn,
              reason: `${refused} ${parked ? `The event was dropped: ${parked}` : `The event went to its dead-letter queue ${target.deadLetterArn}.`}`,
            });
          }
        } else if (target.arn.startsWith("arn:aws:lambda:")) {
          this.targets.invokeAsync(target.arn, payload);
        } else {
          this.failedDeliveries.push({
            rule: rule.name,
            target: target.arn,
            reason: "The rehearsal cannot deliver to this kind of target.",
          });
        }
      }
    }
  }
}

function pick(value: Record<string, unknown>, jsonPath: string): unknown {
  return jsonPath
    .replace(/^\$\.?/, "")
    .split(".")
    .filter(Boolean)
    .reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value);
}

/** EventBridge's pattern matching: every field of the pattern must match; arrays list alternatives. */
export function matches(pattern: Record<string, unknown>, event: unknown): boolean {
  for (const [key, expected] of Object.entries(pattern)) {
    const actual = (event as Record<string, unknown> | undefined)?.[key];
    if (Array.isArray(expected)) {
      if (!matchesAny(expected, actual)) return false;
    } else if (expected && typeof expected === "object") {
      if (!matches(expected as Record<string, unknown>, actual)) return false;
    } else {
      throw new Error(`Event pattern field ${key} must be an array or an object.`);
    }
  }
  return true;
}

function matchesAny(alternatives: unknown[], actual: unknown): boolean {
  const values = Array.isArray(actual) ? actual : [actual];
  return alternatives.some((alternative) => {
    if (alternative === null || typeof alternative !== "object")
      return actual !== undefined && values.some((v) => v === alternative);
    const [operator, argument] = Object.entries(alternative as Record<string, unknown>)[0] ?? [];
    switch (operator) {
      case "exists":
        return argument ? actual !== undefined : actual === undefined;
      case "prefix":
        return values.some((v) => typeof v === "string" && v.startsWith(String(argument)));
      case "suffix":
        return values.some((v) => typeof v === "string" && v.endsWith(String(argument)));
      case "equals-ignore-case":
        return values.some((v) => typeof v === "string" && v.toLowerCase() === String(argument).toLowerCase());
      case "anything-but": {
        const excluded = Array.isArray(argument) ? argument : [argument];
        return actual !== undefined && values.every((v) => !excluded.includes(v));
      }
      case "numeric": {
        const conditions = argument as (string | number)[];
        return values.some((v) => {
          if (typeof v !== "number") return false;
          for (let i = 0; i < conditions.length; i += 2) {
            const bound = Number(conditions[i + 1]);
            const ok = { "=": v === bound, "<": v < bound, "<=": v <= bound, ">": v > bound, ">=": v >= bound }[
              String(conditions[i])
            ];
            if (!ok) return false;
          }
          return true;
        });
      }
      default:
        throw new Error(`The rehearsal's EventBridge does not implement the pattern operator ${operator}.`);
    }
  });
}
