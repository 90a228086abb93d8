/**
 * The one AWS endpoint every rehearsed function talks to (`AWS_ENDPOINT_URL`). For each request it
 * finds the caller by the access key the request was signed with, works out each action and
 * resource AWS would authorize, asks the IAM simulator whether the caller's synthesized role allows
 * it, and then either answers AccessDeniedException (recording the denial: function, action,
 * resource) or passes the request to the service's stand-in. Every call and every AWS error is
 * recorded, so a failed scenario can say what the functions did.
 *
 * Requests signed with the operator's key (the rehearsal itself, standing in for a person with
 * the deploy's administrator credentials) are not checked.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { LambdaFunctionView } from "../../infra/synthesis/stack-model.js";
import { authorizationsFor, parseAwsRequest, type ArnContext } from "./aws-requests.js";
import type { IamChecker } from "./iam-check.js";
import type { DynamoDbStandIn } from "./standins/dynamodb.js";
import type { EventBridgeStandIn } from "./standins/eventbridge.js";
import type { SecretsManagerStandIn } from "./standins/secrets-manager.js";
import type { SqsStandIn } from "./standins/sqs.js";

export const OPERATOR_ACCESS_KEY = "AKIAREHEARSALOPERATOR";

export interface AwsCall {
  caller: string;
  service: string;
  operation: string;
  authorizations: { action: string; resource: string; decision: string }[];
  status: number;
  /** AWS's error type and message, when the call failed. */
  error?: string;
}

export interface Denial {
  function: string;
  action: string;
  resource: string;
  decision: string;
}

export interface GatewayDeps {
  context: ArnContext;
  iam: IamChecker;
  functionForAccessKey(accessKeyId: string | undefined): LambdaFunctionView | undefined;
  dynamodb: DynamoDbStandIn;
  sqs: SqsStandIn;
  secretsManager: SecretsManagerStandIn;
  eventBridge: EventBridgeStandIn;
}

export class AwsGateway {
  readonly calls: AwsCall[] = [];
  readonly denials: Denial[] = [];
  /** Calls to a service or operation no stand-in implements: each is a gap in the rehearsal, and fails it. */
  readonly unsupported: AwsCall[] = [];
  private server?: http.Server;
  url = "";

  constructor(private readonly deps: GatewayDeps) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.handle(req.headers, Buffer.concat(chunks).toString("utf8")).then(
          (answer) => {
            res.writeHead(answer.status, { "content-type": "application/x-amz-json-1.0", ...answer.headers });
            res.end(answer.body);
          },
          (error) => {
            res.writeHead(500, { "content-type": "application/x-amz-json-1.0" });
            res.end(
              JSON.stringify({
                __type: "InternalFailure",
                message: `The rehearsal's gateway failed: ${(error as Error).message}`,
              }),
            );
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(
    headers: http.IncomingHttpHeaders,
    rawBody: string,
  ): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const request = parseAwsRequest(headers, rawBody);
    const fn = this.deps.functionForAccessKey(request.accessKeyId);
    const operator = request.accessKeyId === OPERATOR_ACCESS_KEY;
    const caller = fn?.label ?? (operator ? "operator" : `unknown signer ${request.accessKeyId ?? "(unsigned)"}`);
    const call: AwsCall = {
      caller,
      service: request.service,
      operation: request.operation,
      authorizations: [],
      status: 0,
    };
    this.calls.push(call);

    if (!fn && !operator)
      return this.finish(call, 403, {
        __type: "UnrecognizedClientException",
        message: "The security token included in the request is invalid.",
      });

    if (fn) {
      for (const { action, resource } of authorizationsFor(request, this.deps.context)) {
        const { decision, invalid } = await this.deps.iam.check(fn.role, action, resource);
        call.authorizations.push({ action, resource, decision });
        if (decision !== "Allowed") {
          this.denials.push({
            function: fn.label,
            action,
            resource,
            decision: invalid ? `${decision} (${invalid})` : decision,
          });
          return this.finish(call, 400, {
            __type: "AccessDeniedException",
            message: `User: arn:aws:sts::${this.deps.context.accountId}:assumed-role/${fn.role.name}/${fn.name} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
          });
        }
      }
    }

    const forwardHeaders: Record<string, string> = {};
    for (const [key, value] of Object.entries(headers)) {
      if (value !== undefined && !["host", "content-length", "connection", "transfer-encoding"].includes(key))
        forwardHeaders[key] = Array.isArray(value) ? value.join(",") : value;
    }
    switch (request.service) {
      case "dynamodb":
        return this.finishRaw(call, await this.deps.dynamodb.forward(request.operation, rawBody, forwardHeaders));
      case "sqs":
        return this.finishRaw(call, await this.deps.sqs.forward(request.operation, rawBody, forwardHeaders));
      case "secretsmanager": {
        const answer = this.deps.secretsManager.handle(request.operation, request.body);
        if (answer.body.__type === "UnsupportedOperation") this.unsupported.push(call);
        return this.finish(call, answer.status, answer.body);
      }
      case "events": {
        const answer = await this.deps.eventBridge.handle(request.operation, request.body);
        if (answer.body.__type === "UnsupportedOperation") this.unsupported.push(call);
        return this.finish(call, answer.status, answer.body);
      }
      default:
        this.unsupported.push(call);
        return this.finish(call, 400, {
          __type: "UnsupportedOperation",
          message: `The rehearsal has no stand-in for ${request.service} ${request.operation}.`,
        });
    }
  }

  private finish(call: AwsCall, status: number, body: Record<string, unknown>) {
    return this.finishRaw(call, { status, headers: {}, body: JSON.stringify(body) });
  }

  private finishRaw(call: AwsCall, answer: { status: number; headers: Record<string, string>; body: string }) {
    call.status = answer.status;
    if (answer.status >= 400) {
      try {
        const parsed = JSON.parse(answer.body) as { __type?: string; message?: string; Message?: string };
        call.error = `${String(parsed.__type ?? "Error")
          .split("#")
          .pop()}: ${parsed.message ?? parsed.Message ?? ""}`;
      } catch {
        call.error = answer.body.slice(0, 200);
      }
    }
    return answer;
  }

  /** One line per failed call, for failure messages. */
  describeErrors(): string[] {
    return this.calls.filter((c) => c.error).map((c) => `${c.caller}: ${c.service}:${c.operation} → ${c.error}`);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
