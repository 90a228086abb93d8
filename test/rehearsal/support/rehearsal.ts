/**
 * The AWS home, rehearsed on this machine: stand-ins built from a synthesis (never from test code),
 * the synthesized functions' real bundles run as Lambda runs them, and every AWS call they make
 * checked against their synthesized IAM policies.
 *
 *   HTTP request ─► API Gateway (synthesized routes) ─► function ─┐
 *   Scheduler (synthesized schedules, their input)  ─► function ─┤  AWS SDK ─► gateway ─► IAM check ─► stand-in
 *   EventBridge (synthesized rules and targets)     ─► queue/fn ─┤            (dynalite, fauxqs, Secrets Manager, EventBridge)
 *   SQS event source (synthesized mapping)          ─► function ─┘  fetch ─► PassEntry sandbox
 *
 * Generic: a queue, table, route, rule, schedule or function added to the infra is created and run
 * here without editing this file. `problems()` lists what would fail on AWS whatever the scenario
 * (denied calls, calls no stand-in implements, deliveries AWS would refuse, functions that crashed).
 */
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { startHttpServer, type LocalHttpServer } from "../../../local/http-server.js";
import {
  busRules,
  eventBuses,
  eventSourceMappings,
  httpRoutes,
  lambdaFunctions,
  queues,
  roles,
  secrets,
  tables,
  type LambdaFunctionView,
  type ScheduleView,
} from "../../infra/synthesis/stack-model.js";
import type { Synthesis } from "../../infra/synthesis/types.js";
import { AwsGateway, OPERATOR_ACCESS_KEY, type Denial } from "./aws-gateway.js";
import { EventSourcePoller } from "./event-source-poller.js";
import { IamChecker } from "./iam-check.js";
import { LambdaHost, type InvocationResult, type LogLine } from "./lambda-host.js";
import { DynamoDbStandIn } from "./standins/dynamodb.js";
import { EventBridgeStandIn } from "./standins/eventbridge.js";
import { SecretsManagerStandIn } from "./standins/secrets-manager.js";
import { SqsStandIn } from "./standins/sqs.js";

export interface RehearsalOptions {
  /** Origins the functions may call over HTTP (the stage's PassEntry URL), each mapped to a local stand-in. */
  outbound: Record<string, string>;
  onLog?: (line: LogLine) => void;
}

export interface ScheduleFiring {
  schedule: string;
  attempts: InvocationResult[];
}

export interface Rehearsal {
  synthesis: Synthesis;
  functions: LambdaFunctionView[];
  /** The API's base URL on this machine (API Gateway's invoke URL on AWS). */
  apiUrl: string;
  gateway: AwsGateway;
  host: LambdaHost;
  sqs: SqsStandIn;
  dynamodb: DynamoDbStandIn;
  secretsManager: SecretsManagerStandIn;
  eventBridge: EventBridgeStandIn;
  pollers: EventSourcePoller[];
  /** SDK clients signed as the operator, i.e. another service of the account with its own IAM. */
  operator: { sqs: SQSClient; eventBridge: EventBridgeClient };
  /** Asynchronous invocations that failed every attempt and went to their on-failure destination. */
  asyncFailures: string[];
  /** Fires a synthesized schedule as EventBridge Scheduler would at `scheduledTime`. */
  fireSchedule(schedule: ScheduleView, scheduledTime: Date): Promise<ScheduleFiring>;
  /** Every way the rehearsal saw AWS refuse or not cover something, one sentence each. */
  problems(): string[];
  close(): Promise<void>;
}

const accessKeyFor = (index: number) => `AKIAREHEARSALFN${String(index).padStart(5, "0")}`;

export async function startRehearsal(synthesis: Synthesis, options: RehearsalOptions): Promise<Rehearsal> {
  const { region, accountId } = synthesis.app;
  const functions = lambdaFunctions(synthesis);
  const keys = new Map(functions.map((fn, i) => [accessKeyFor(i), fn]));
  const keyOf = new Map(functions.map((fn, i) => [fn.arn, accessKeyFor(i)]));
  const iam = new IamChecker(accountId);
  const setupDenials: Denial[] = [];
  const functionErrors: string[] = [];

  const sqs = await SqsStandIn.start(queues(synthesis), region);
  const dynamodb = await DynamoDbStandIn.start(tables(synthesis), region);
  const secretsManager = new SecretsManagerStandIn(secrets(synthesis));
  let host!: LambdaHost;
  const ruleViews = busRules(synthesis).map((r) => ({
    ...r,
    arn: `arn:aws:events:${region}:${accountId}:rule/${r.busName === "default" ? "" : `${r.busName}/`}${r.name}`,
  }));
  const queuePolicies = new Map(queues(synthesis).map((q) => [q.arn, q.policy]));
  // Lambda's asynchronous invocation, as the function's synthesized EventInvokeConfig sets it: its
  // retries (two unless configured), then its on-failure destination, which Lambda sends to with
  // the function's own role (checked like any call of the function).
  const invokeConfigs = synthesis.resources
    .filter((r) => r.custom && r.type === "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    .map((r) => r.inputs);
  const asyncFailures: string[] = [];
  const invokeAsync = async (fn: LambdaFunctionView, event: unknown): Promise<InvocationResult[]> => {
    const config = invokeConfigs.find((c) => c.functionName === fn.name || c.functionName === fn.arn);
    const retries = Number(config?.maximumRetryAttempts ?? 2);
    const attempts: InvocationResult[] = [];
    for (let attempt = 0; attempt <= retries; attempt++) {
      const result = await host.invoke(fn, event);
      attempts.push(result);
      if (result.ok) break;
    }
    const last = attempts.at(-1)!;
    if (last.ok) return attempts;
    const destination = config?.destinationConfig?.onFailure?.destination as string | undefined;
    if (!destination) {
      functionErrors.push(
        `${fn.label} failed every asynchronous attempt and has no on-failure destination, so Lambda dropped the event: ${last.error?.errorMessage}`,
      );
      return attempts;
    }
    const { decision } = await iam.check(fn.role, "sqs:SendMessage", destination);
    if (decision !== "Allowed") {
      setupDenials.push({
        function: `${fn.label} (on-failure destination)`,
        action: "sqs:SendMessage",
        resource: destination,
        decision,
      });
      return attempts;
    }
    // Lambda's destination record for a failed asynchronous invocation.
    const record = {
      version: "1.0",
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: randomUUID(),
        functionArn: `${fn.arn}:$LATEST`,
        condition: "RetriesExhausted",
        approximateInvokeCount: attempts.length,
      },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      responsePayload: last.error,
    };
    await sqs.client.send(
      new SendMessageCommand({ QueueUrl: sqs.queue(destination).url, MessageBody: JSON.stringify(record) }),
    );
    asyncFailures.push(
      `${fn.label} failed ${attempts.length} attempts; its event went to ${destination}: ${last.error?.errorMessage}`,
    );
    return attempts;
  };
  const eventBridge = new EventBridgeStandIn(
    eventBuses(synthesis),
    ruleViews,
    {
      async sendToQueue(queueArn, body, ruleArn) {
        const { decision } = await iam.checkServiceDelivery(
          queuePolicies.get(queueArn),
          "events.amazonaws.com",
          "sqs:SendMessage",
          queueArn,
          ruleArn,
        );
        if (decision !== "Allowed")
          return `The queue's policy does not let EventBridge send for ${ruleArn} (${decision}).`;
        await sqs.client.send(new SendMessageCommand({ QueueUrl: sqs.queue(queueArn).url, MessageBody: body }));
        return undefined;
      },
      invokeAsync(functionArn, event) {
        void invokeAsync(host.functionByArn(functionArn), event);
      },
    },
    { accountId, region },
  );

  const gateway = new AwsGateway({
    context: {
      region,
      accountId,
      queueArnForUrl: (url) => sqs.queueArnForUrl(url),
      secretArnFor: (id) => secretsManager.find(id)?.arn,
    },
    iam,
    functionForAccessKey: (key) => (key ? keys.get(key) : undefined),
    dynamodb,
    sqs,
    secretsManager,
    eventBridge,
  });
  await gateway.start();

  host = new LambdaHost(functions, {
    region,
    gatewayUrl: gateway.url,
    accessKeyFor: (fn) => keyOf.get(fn.arn)!,
    outbound: options.outbound,
    onLog: options.onLog,
  });

  const pollers = eventSourceMappings(synthesis).map(
    (mapping) => new EventSourcePoller(mapping, host.functionByArn(mapping.functionArn), sqs, host, region),
  );
  for (const poller of pollers) setupDenials.push(...(await poller.permissionProblems(iam)));
  for (const poller of pollers) poller.start();

  const routes = httpRoutes(synthesis);
  // API Gateway may invoke a function only if the function's resource policy (a Lambda permission) lets it.
  const permissions = synthesis.resources
    .filter((r) => r.custom && r.type === "aws:lambda/permission:Permission")
    .map((r) => r.inputs);
  const wildcard = (pattern: string) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`);
  for (const route of routes) {
    const fn = host.functionByArn(route.functionArn);
    const invokedAs = `arn:aws:execute-api:${region}:${accountId}:${route.apiId}/$default/${route.method}${route.path}`;
    const allowed = permissions.some(
      (p) =>
        p.principal === "apigateway.amazonaws.com" &&
        ["lambda:InvokeFunction", "lambda:*"].includes(p.action) &&
        [fn.arn, fn.name].includes(p.function) &&
        (!p.sourceArn || wildcard(p.sourceArn).test(invokedAs)),
    );
    if (!allowed)
      setupDenials.push({
        function: `API Gateway (${route.routeKey})`,
        action: "lambda:InvokeFunction",
        resource: fn.arn,
        decision: "no Lambda permission lets API Gateway invoke it",
      });
  }
  const api: LocalHttpServer = await startHttpServer(
    routes.map((route) => ({
      method: route.method,
      path: route.path,
      // API Gateway checks no credential itself: the functions do (and no local door runs here).
      credential: "none" as const,
      handler: async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
        if (route.payloadFormatVersion !== "2.0")
          throw new Error(
            `Route ${route.routeKey} uses payload format ${route.payloadFormatVersion}; the rehearsal speaks 2.0 only.`,
          );
        const fn = host.functionByArn(route.functionArn);
        const result = await host.invoke(fn, {
          ...event,
          requestContext: {
            ...event.requestContext,
            accountId,
            apiId: route.apiId,
            domainName: `${route.apiId}.execute-api.${region}.amazonaws.com`,
            domainPrefix: route.apiId,
          },
        });
        if (!result.ok) {
          functionErrors.push(
            `${fn.label} failed on ${route.routeKey}: ${result.error?.errorType}: ${result.error?.errorMessage}`,
          );
          return {
            statusCode: 500,
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ message: "Internal Server Error" }),
          };
        }
        const answer = result.result as APIGatewayProxyStructuredResultV2 | string | null;
        // Payload 2.0: an answer without statusCode is taken as a JSON body with 200.
        if (answer && typeof answer === "object" && "statusCode" in answer) return answer;
        return {
          statusCode: 200,
          headers: { "content-type": "application/json" },
          body: typeof answer === "string" ? answer : JSON.stringify(answer),
        };
      },
    })),
    { host: "127.0.0.1", port: 0 },
  );

  const operatorCredentials = {
    accessKeyId: OPERATOR_ACCESS_KEY,
    secretAccessKey: "operator",
    sessionToken: "operator",
  };
  const operator = {
    sqs: new SQSClient({ endpoint: gateway.url, region, credentials: operatorCredentials, maxAttempts: 1 }),
    eventBridge: new EventBridgeClient({
      endpoint: gateway.url,
      region,
      credentials: operatorCredentials,
      maxAttempts: 1,
    }),
  };

  return {
    synthesis,
    functions,
    apiUrl: api.url,
    gateway,
    host,
    sqs,
    dynamodb,
    secretsManager,
    eventBridge,
    pollers,
    operator,
    asyncFailures,
    async fireSchedule(schedule, scheduledTime) {
      const schedulerRole = roles(synthesis).find((r) => r.arn === schedule.target.roleArn);
      if (!schedulerRole)
        throw new Error(
          `Schedule ${schedule.name} invokes with the role ${schedule.target.roleArn}, which the synthesis did not create.`,
        );
      const { decision } = await iam.check(schedulerRole, "lambda:InvokeFunction", schedule.target.arn);
      if (decision !== "Allowed") {
        setupDenials.push({
          function: `Scheduler ${schedule.logicalName}`,
          action: "lambda:InvokeFunction",
          resource: schedule.target.arn,
          decision,
        });
        return { schedule: schedule.logicalName, attempts: [] };
      }
      // Scheduler's context attributes, replaced in the target's input as Scheduler replaces them.
      const input = (schedule.target.input ?? "{}")
        .replaceAll("<aws.scheduler.scheduled-time>", scheduledTime.toISOString().replace(/\.\d{3}Z$/, "Z"))
        .replaceAll("<aws.scheduler.execution-id>", randomUUID())
        .replaceAll("<aws.scheduler.attempt-number>", "1")
        .replaceAll(
          "<aws.scheduler.schedule-arn>",
          `arn:aws:scheduler:${region}:${accountId}:schedule/default/${schedule.name}`,
        );
      const attempts = await invokeAsync(host.functionByArn(schedule.target.arn), JSON.parse(input));
      return { schedule: schedule.logicalName, attempts };
    },
    problems() {
      return [
        ...[...setupDenials, ...gateway.denials].map(
          (d) => `AWS would deny ${d.function} ${d.action} on ${d.resource} (${d.decision}).`,
        ),
        ...gateway.unsupported.map(
          (c) => `${c.caller} called ${c.service}:${c.operation}, which the rehearsal has no stand-in for.`,
        ),
        ...eventBridge.failedDeliveries.map(
          (f) => `EventBridge rule ${f.rule} could not deliver to ${f.target}: ${f.reason}`,
        ),
        ...functionErrors,
      ];
    },
    async close() {
      await Promise.all(pollers.map((p) => p.stop()));
      await host.close();
      await api.close();
      operator.sqs.destroy();
      operator.eventBridge.destroy();
      await gateway.close();
      await sqs.close();
      await dynamodb.close();
    },
  };
}
