/**
 * `npm run smoke -- --url <ApiUrl> --key <operator key>`: after a deploy, checks
 * the stage from the outside the way a caller and an operator see it, each step with a plain
 * verdict, and exits non-zero if any failed:
 *
 *   1. health      GET /health answers 200 {"status":"ok"}
 *   2. request     PassEntry's own request shape is accepted (202) for a segment that reaches
 *                  nobody, scheduled ~300 days ahead, so PassEntry validates it and never sends it
 *   3. status      the request reaches PassEntry: status `submitted`, PassEntry's batch `scheduled`
 *   4. cancel      DELETE cancels it, and the status says `cancelled` (PassEntry's batch cancelled)
 *   5. alarms      every CloudWatch alarm of the stage (`wallet-messaging-<stage>-*`, in the API's
 *                  region; the stage is the one whose Api5xx alarm watches the URL's API, or
 *                  --stage) and its state: none may be in ALARM
 *
 * It reaches AWS only for step 5 (DescribeAlarms, with the credentials of the shell running it);
 * steps 1-4 are HTTP calls to the API like any caller's. Run against `npm start` (with
 * `--skip-alarms`) it checks the embedded home the same way.
 */
import { CloudWatchClient, DescribeAlarmsCommand, type MetricAlarm } from "@aws-sdk/client-cloudwatch";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { stageSettings } from "../infra/stage-config.js";
import { SERVICE_NAME } from "../infra/manifest.js";

const USAGE = `usage: npm run smoke -- --url <ApiUrl> --key <operator key> [options]
  --url <url>          the stage's ApiUrl (a deploy output)
  --key <key>          an operator API key of the stage (the ApiKeys secret)
  --stage <stage>      the stage whose alarms are read (wallet-messaging-<stage>-*); default: the one whose Api5xx alarm watches the URL's API
  --region <region>    where its alarms live (default: the URL's region, else the stage's in stages.json)
  --entity <id>        the PassEntry entity to create the test batch in (default: smoke-test)
  --group-tag <tag>    a segment that reaches no pass (default: wallet-messaging-smoke-test)
  --timeout <seconds>  how long to wait for PassEntry at each step (default 120)
  --skip-alarms        do not read CloudWatch (e.g. against npm start)`;

export type Verdict = "PASS" | "FAIL" | "SKIP";

export interface StepResult {
  step: string;
  verdict: Verdict;
  detail: string;
}

export interface SmokeOptions {
  url: string;
  key: string;
  stage?: string;
  region?: string;
  entity: string;
  groupTag: string;
  timeoutMs: number;
  skipAlarms: boolean;
  /** Polling interval while waiting on PassEntry (tests shorten it). */
  pollMs?: number;
  /** The CloudWatch client to read alarms with (default: the shell's credentials, in the stage's region). */
  cloudWatch?: CloudWatchClient;
  now?: () => Date;
}

interface RequestView {
  status?: string;
  batchStatus?: string;
  failureReason?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs every step (a failed step does not stop the next ones that can still run); returns their verdicts. */
export async function runSmoke(options: SmokeOptions): Promise<StepResult[]> {
  const results: StepResult[] = [];
  const base = options.url.replace(/\/+$/, "");
  const auth = { authorization: `Bearer ${options.key}` };
  const pollMs = options.pollMs ?? 2_000;
  const now = options.now ?? (() => new Date());
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${base}${path}`, {
      ...init,
      headers: { ...auth, ...(init.headers as Record<string, string>) },
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body, text };
  };
  const attempt = async (step: string, work: () => Promise<StepResult>) => {
    try {
      results.push(await work());
    } catch (error) {
      results.push({ step, verdict: "FAIL", detail: `${(error as Error).message}` });
    }
    return results.at(-1)!;
  };
  const viewOf = (body: any): RequestView => body?.data?.attributes ?? {};
  const waitForStatus = async (id: string, done: (view: RequestView) => boolean) => {
    const until = Date.now() + options.timeoutMs;
    let view: RequestView = {};
    while (Date.now() < until) {
      const answer = await call(`/api/v1/requests/${encodeURIComponent(id)}`);
      if (answer.status !== 200)
        throw new Error(`GET /api/v1/requests/${id} answered ${answer.status}: ${answer.text.slice(0, 200)}`);
      view = viewOf(answer.body);
      if (done(view) || view.status === "failed" || view.status === "unknown") return view;
      await sleep(pollMs);
    }
    return view;
  };

  await attempt("health", async () => {
    const started = Date.now();
    const answer = await fetch(`${base}/health`, { signal: AbortSignal.timeout(30_000) });
    const body = (await answer.json().catch(() => undefined)) as { status?: string } | undefined;
    const ok = answer.status === 200 && body?.status === "ok";
    return {
      step: "health",
      verdict: ok ? "PASS" : "FAIL",
      detail: ok
        ? `200 {"status":"ok"} in ${Date.now() - started} ms`
        : `answered ${answer.status} ${JSON.stringify(body)}`,
    };
  });

  let requestId: string | undefined;
  await attempt("request", async () => {
    // About 300 days ahead: inside PassEntry's 365-day window, far from any real send, and
    // cancelled below; the segment reaches no pass even if it were ever sent.
    const scheduledAt = new Date(now().getTime() + 300 * 24 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const body = {
      batch: {
        message: `wallet-messaging smoke test ${now().toISOString()}: never sent`,
        segments: [{ groupTag: options.groupTag }],
        scheduledAt,
        name: "wallet-messaging smoke test",
      },
    };
    const answer = await call(`/api/v1/entities/${encodeURIComponent(options.entity)}/messaging/wallet`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": `smoke-${randomUUID()}` },
      body: JSON.stringify(body),
    });
    requestId = answer.body?.data?.id;
    if (answer.status !== 202 || !requestId)
      return { step: "request", verdict: "FAIL", detail: `answered ${answer.status}: ${answer.text.slice(0, 300)}` };
    return {
      step: "request",
      verdict: "PASS",
      detail: `202, request ${requestId}, scheduled for ${scheduledAt} to the segment ${options.groupTag}`,
    };
  });

  const status = await attempt("status", async () => {
    if (!requestId) return { step: "status", verdict: "SKIP", detail: "no request was accepted" };
    const view = await waitForStatus(requestId, (v) => v.status === "submitted" && v.batchStatus === "scheduled");
    const ok = view.status === "submitted" && view.batchStatus === "scheduled";
    return {
      step: "status",
      verdict: ok ? "PASS" : "FAIL",
      detail: ok
        ? "submitted; PassEntry validated the batch and holds it scheduled"
        : `status ${view.status ?? "?"}, PassEntry batch ${view.batchStatus ?? "none"}${view.failureReason ? `: ${view.failureReason}` : ""} after ${options.timeoutMs / 1000} s`,
    };
  });

  await attempt("cancel", async () => {
    if (!requestId) return { step: "cancel", verdict: "SKIP", detail: "no request to cancel" };
    const answer = await call(`/api/v1/requests/${encodeURIComponent(requestId)}`, { method: "DELETE" });
    if (answer.status !== 202)
      return {
        step: "cancel",
        verdict: "FAIL",
        detail: `DELETE answered ${answer.status}: ${answer.text.slice(0, 300)}`,
      };
    const view = await waitForStatus(requestId, (v) => v.status === "cancelled");
    const ok = view.status === "cancelled";
    return {
      step: "cancel",
      verdict: ok ? "PASS" : "FAIL",
      detail: ok
        ? `cancelled${status.verdict === "PASS" ? " at PassEntry too" : ""}: nothing will be sent`
        : `still ${view.status ?? "?"} (PassEntry batch ${view.batchStatus ?? "none"}) after ${options.timeoutMs / 1000} s: cancel it by hand if PassEntry holds it`,
    };
  });

  await attempt("alarms", async () => {
    if (options.skipAlarms) return { step: "alarms", verdict: "SKIP", detail: "--skip-alarms" };
    // An API Gateway URL names its API and region; the stage is then the one whose Api5xx alarm watches that API.
    const apiHost = /^https:\/\/([a-z0-9]+)\.execute-api\.([a-z0-9-]+)\.amazonaws\.com/.exec(base);
    const region = options.region ?? apiHost?.[2] ?? (options.stage ? stageSettings(options.stage).region : undefined);
    if (!region)
      return {
        step: "alarms",
        verdict: "SKIP",
        detail: "the URL is not an API Gateway URL: pass --stage (or --region) to read the stage's alarms",
      };
    const cloudWatch = options.cloudWatch ?? new CloudWatchClient({ region });
    const stage = options.stage ?? (apiHost ? await stageWatching(cloudWatch, apiHost[1]!) : undefined);
    if (!stage)
      return {
        step: "alarms",
        verdict: "FAIL",
        detail: `no alarm of ${SERVICE_NAME} in ${region} watches this API: pass --stage, or the stage's alarms are missing`,
      };
    const prefix = `${SERVICE_NAME}-${stage}-`;
    const alarms = await describeAlarms(cloudWatch, prefix);
    if (alarms.length === 0)
      return {
        step: "alarms",
        verdict: "FAIL",
        detail: `no alarm is named ${prefix}* in ${region}: wrong --stage or --region, or the stage is not deployed`,
      };
    const firing = alarms.filter((a) => a.StateValue === "ALARM");
    const waiting = alarms.filter((a) => a.StateValue === "INSUFFICIENT_DATA").length;
    if (firing.length > 0)
      return {
        step: "alarms",
        verdict: "FAIL",
        detail: `${firing.length} of ${alarms.length} in ALARM: ${firing.map((a) => `${a.AlarmName!.slice(prefix.length)} (${a.StateReason ?? ""})`).join("; ")}`,
      };
    return {
      step: "alarms",
      verdict: "PASS",
      detail: `${alarms.length} alarms in ${region}, none in ALARM${waiting ? ` (${waiting} without data yet, as new alarms are)` : ""}`,
    };
  });

  return results;
}

async function describeAlarms(cloudWatch: CloudWatchClient, prefix: string): Promise<MetricAlarm[]> {
  const found: MetricAlarm[] = [];
  let nextToken: string | undefined;
  do {
    const page = await cloudWatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, NextToken: nextToken }));
    found.push(...(page.MetricAlarms ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  return found;
}

/** The stage whose Api5xx alarm watches the API `apiId`: every stage alarms its own API (infra/alarms.ts). */
export async function stageWatching(cloudWatch: CloudWatchClient, apiId: string): Promise<string | undefined> {
  const api5xx = (await describeAlarms(cloudWatch, `${SERVICE_NAME}-`)).find(
    (a) => a.AlarmName?.endsWith("-Api5xx") && a.Dimensions?.some((d) => d.Name === "ApiId" && d.Value === apiId),
  );
  return api5xx?.AlarmName?.slice(`${SERVICE_NAME}-`.length, -"-Api5xx".length);
}

export function formatResults(results: StepResult[]): string[] {
  const failed = results.filter((r) => r.verdict === "FAIL").length;
  return [
    ...results.map((r) => `${r.verdict.padEnd(4)}  ${r.step.padEnd(7)}  ${r.detail}`),
    failed === 0
      ? "The stage works: every step passed or was skipped."
      : `${failed} step(s) failed: the stage is not healthy.`,
  ];
}

/** The command line; returns the exit code. */
export async function main(
  argv: string[],
  io: { out: (line: string) => void; err: (line: string) => void } = { out: console.log, err: console.error },
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: "string" },
        key: { type: "string" },
        stage: { type: "string" },
        region: { type: "string" },
        entity: { type: "string" },
        "group-tag": { type: "string" },
        timeout: { type: "string" },
        "skip-alarms": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (!values.url || !values.key) {
    io.err(`--url and --key are required: the stage's ApiUrl and an operator key.\n${USAGE}`);
    return 2;
  }
  const timeoutSeconds = Number(values.timeout ?? 120);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    io.err(`--timeout must be a number of seconds above 0.\n${USAGE}`);
    return 2;
  }
  const results = await runSmoke({
    url: values.url,
    key: values.key,
    stage: values.stage,
    region: values.region,
    entity: values.entity ?? "smoke-test",
    groupTag: values["group-tag"] ?? "wallet-messaging-smoke-test",
    timeoutMs: timeoutSeconds * 1000,
    skipAlarms: values["skip-alarms"] ?? false,
  });
  for (const line of formatResults(results)) io.out(line);
  return results.some((r) => r.verdict === "FAIL") ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
