/**
 * Runs synthesized functions the way Lambda does: each execution environment is a process of its
 * own with the function's environment variables and credentials, one invocation at a time; a busy
 * function gets another environment; an invocation that outlives the function's timeout is killed
 * with its environment ("Task timed out"), as Lambda resets a timed-out sandbox.
 *
 * Credentials: each function signs with its own access key, so the AWS gateway knows which role
 * is calling. Every AWS endpoint is the gateway (`AWS_ENDPOINT_URL`): nothing reaches AWS.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { LambdaFunctionView } from "../../infra/synthesis/stack-model.js";

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), "lambda-worker.mjs");

export interface InvocationResult {
  ok: boolean;
  result?: unknown;
  error?: { errorType: string; errorMessage: string; stack?: string };
}

export interface LogLine {
  function: string;
  stream: "stdout" | "stderr";
  line: string;
}

interface Environment {
  child: ChildProcess;
  busy: boolean;
  ready: Promise<void>;
  pending?: { id: string; resolve: (r: InvocationResult) => void; timer: NodeJS.Timeout };
}

export interface LambdaHostOptions {
  region: string;
  gatewayUrl: string;
  /** Access key per function ARN (the gateway maps it back). */
  accessKeyFor(fn: LambdaFunctionView): string;
  /** Outbound origins the functions may reach, mapped to a local stand-in (see lambda-worker.mjs). */
  outbound: Record<string, string>;
  onLog?: (line: LogLine) => void;
}

export class LambdaHost {
  private readonly environments = new Map<string, Environment[]>();
  readonly logs: LogLine[] = [];
  readonly coldStarts = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly functions: LambdaFunctionView[],
    private readonly options: LambdaHostOptions,
  ) {}

  functionByArn(arn: string): LambdaFunctionView {
    // Lambda accepts a name, an ARN or a qualified ARN.
    const bare = arn.replace(/:(\$LATEST|\d+)$/, "");
    const fn = this.functions.find((f) => f.arn === bare || f.name === bare);
    if (!fn) throw new Error(`No synthesized function answers to ${arn}.`);
    return fn;
  }

  /** Synchronous invocation (RequestResponse), as API Gateway and the SQS event source make. */
  async invoke(fn: LambdaFunctionView, event: unknown): Promise<InvocationResult> {
    if (this.closed)
      return { ok: false, error: { errorType: "RehearsalClosed", errorMessage: "The rehearsal is shutting down." } };
    const env = this.idleEnvironment(fn);
    env.busy = true;
    try {
      await env.ready;
      return await new Promise<InvocationResult>((resolve) => {
        const id = randomUUID();
        const timeoutMs = fn.timeoutSeconds * 1000;
        const timer = setTimeout(() => {
          env.pending = undefined;
          this.discard(fn, env);
          resolve({
            ok: false,
            error: {
              errorType: "Sandbox.Timedout",
              errorMessage: `Task timed out after ${fn.timeoutSeconds}.00 seconds`,
            },
          });
        }, timeoutMs);
        env.pending = { id, resolve, timer };
        env.child.send({ type: "invoke", id, requestId: id, event, deadline: Date.now() + timeoutMs });
      });
    } finally {
      env.busy = false;
    }
  }

  private idleEnvironment(fn: LambdaFunctionView): Environment {
    const list = this.environments.get(fn.arn) ?? [];
    this.environments.set(fn.arn, list);
    const idle = list.find((e) => !e.busy && e.child.exitCode === null);
    if (idle) return idle;
    const env = this.start(fn);
    list.push(env);
    this.coldStarts.set(fn.label, (this.coldStarts.get(fn.label) ?? 0) + 1);
    return env;
  }

  private start(fn: LambdaFunctionView): Environment {
    const { region } = this.options;
    const logGroupName = `/aws/lambda/${fn.name}`;
    const env: NodeJS.ProcessEnv = {
      // What the Lambda runtime sets, then the function's own variables (which win, as on Lambda).
      PATH: process.env.PATH,
      TZ: "UTC",
      LANG: "en_US.UTF-8",
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_LOG_GROUP_NAME: logGroupName,
      AWS_LAMBDA_LOG_FORMAT: "JSON",
      LAMBDA_TASK_ROOT: fn.bundle.dir,
      _HANDLER: `${path.basename(fn.bundle.entryFile, ".mjs")}.${fn.bundle.exportName}`,
      AWS_ACCESS_KEY_ID: this.options.accessKeyFor(fn),
      AWS_SECRET_ACCESS_KEY: "rehearsal-secret-key",
      AWS_SESSION_TOKEN: "rehearsal-session-token",
      AWS_ENDPOINT_URL: this.options.gatewayUrl,
      ...fn.environment,
    };
    // NODE_OPTIONS from the function is honoured; the test runner's own loaders are not inherited.
    const child = fork(WORKER, [], {
      cwd: fn.bundle.dir,
      env,
      execArgv: [],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "advanced",
    });
    const capture = (stream: "stdout" | "stderr") => {
      let rest = "";
      child[stream]!.on("data", (chunk: Buffer) => {
        const lines = (rest + chunk.toString("utf8")).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) this.log({ function: fn.label, stream, line });
      });
    };
    capture("stdout");
    capture("stderr");
    const environment: Environment = {
      child,
      busy: false,
      ready: new Promise<void>((resolve, reject) => {
        child.once("message", (m: any) =>
          m?.type === "ready" ? resolve() : reject(new Error("The Lambda worker did not start.")),
        );
        child.once("error", reject);
      }),
    };
    child.on("message", (m: any) => {
      const pending = environment.pending;
      if (!pending || m?.id !== pending.id) return;
      clearTimeout(pending.timer);
      environment.pending = undefined;
      if (m.type === "result") pending.resolve({ ok: true, result: m.result });
      else
        pending.resolve({ ok: false, error: { errorType: m.errorType, errorMessage: m.errorMessage, stack: m.stack } });
    });
    child.on("exit", (code, signal) => {
      const pending = environment.pending;
      if (!pending) return;
      clearTimeout(pending.timer);
      environment.pending = undefined;
      pending.resolve({
        ok: false,
        error: {
          errorType: "Runtime.ExitError",
          errorMessage: `RequestId: ${pending.id} Error: Runtime exited with error: ${signal ?? `exit status ${code}`}`,
        },
      });
    });
    child.send({
      type: "init",
      entryFile: fn.bundle.entryFile,
      exportName: fn.bundle.exportName,
      functionName: fn.name,
      functionArn: fn.arn,
      memoryMb: fn.memoryMb,
      logGroupName,
      outbound: this.options.outbound,
      gatewayUrl: this.options.gatewayUrl,
    });
    return environment;
  }

  private log(line: LogLine): void {
    this.logs.push(line);
    this.options.onLog?.(line);
  }

  private discard(fn: LambdaFunctionView, env: Environment): void {
    env.child.kill("SIGKILL");
    const list = this.environments.get(fn.arn) ?? [];
    this.environments.set(
      fn.arn,
      list.filter((e) => e !== env),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const exits: Promise<void>[] = [];
    for (const list of this.environments.values()) {
      for (const env of list) {
        if (env.child.exitCode !== null || env.child.signalCode !== null) continue;
        exits.push(new Promise<void>((resolve) => env.child.once("exit", () => resolve())));
        env.child.kill("SIGTERM");
      }
    }
    await Promise.all(exits);
    this.environments.clear();
  }
}
