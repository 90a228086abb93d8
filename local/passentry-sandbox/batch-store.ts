/**
 * The sandbox's batches. Status is never stored: it is computed from timestamps whenever asked,
 * so there are no per-batch timers and a fake clock (`now`) drives the whole lifecycle.
 */
import { PASSENTRY_MIN_NOTICE_MS } from "../../functions/core/passentry-limits.js";
import { randomUUID } from "node:crypto";
import type { BatchStatus, SandboxBatch } from "./types.js";
import type { CreateBatchInput } from "./validation.js";

/** Message markers that let tests reach the unhappy endings of the lifecycle. */
export const FAIL_VALIDATION_MARKER = "[[fail-validation]]";
export const COMPLETE_WITH_ERRORS_MARKER = "[[complete-with-errors]]";

/** Stand-in audience size per segment: the sandbox knows no passes, but counts must be deterministic. */
export const FAKE_RECIPIENTS_PER_SEGMENT = 100;

/** PassEntry's default `scheduledAt`: its minimum notice from now. */
const DEFAULT_LEAD_MS = PASSENTRY_MIN_NOTICE_MS;

export interface LifecycleTimings {
  validatingMs: number;
  scheduledMs: number;
  sendingMs: number;
  /** Start sending at the batch's own scheduledAt (real time) instead of `scheduledMs` after validation. */
  honourScheduledAt?: boolean;
}

type Outcome = "successful" | "failed" | "completedWithErrors";

interface BatchRecord {
  id: string;
  entityId: string;
  body: unknown;
  name: string;
  tag: string | null;
  message: string;
  scheduledAt: string;
  createdAtMs: number;
  recipientCount: number;
  outcome: Outcome;
  sentNowAtMs: number | null;
  cancelledAtMs: number | null;
}

/** A batch as seen at one instant: the record plus its computed status. */
export interface BatchView {
  id: string;
  name: string;
  tag: string | null;
  message: string;
  scheduledAt: string;
  status: BatchStatus;
  totalCount: number | null;
  completedAtMs: number | null;
}

export type TransitionResult =
  | { ok: true; view: BatchView }
  | { ok: false; reason: "not-found" | "wrong-status"; status?: BatchStatus };

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** ISO without milliseconds, matching the format of PassEntry's examples (2030-03-31T13:16:26Z). */
function isoSeconds(ms: number): string {
  return iso(ms).replace(/\.\d{3}Z$/, "Z");
}

function outcomeFor(message: string): Outcome {
  if (message.includes(FAIL_VALIDATION_MARKER)) return "failed";
  if (message.includes(COMPLETE_WITH_ERRORS_MARKER)) return "completedWithErrors";
  return "successful";
}

export class BatchStore {
  private records: BatchRecord[] = [];

  constructor(
    private readonly timings: LifecycleTimings,
    private readonly now: () => number,
  ) {}

  create(entityId: string, body: unknown, input: CreateBatchInput): BatchView {
    const createdAtMs = this.now();
    const record: BatchRecord = {
      id: randomUUID(),
      entityId,
      body,
      name: input.name ?? `Batch ${isoSeconds(createdAtMs)}`,
      tag: input.tag,
      message: input.message,
      scheduledAt: input.scheduledAt ?? isoSeconds(createdAtMs + DEFAULT_LEAD_MS),
      createdAtMs,
      recipientCount: input.recipients?.length ?? (input.segments?.length ?? 0) * FAKE_RECIPIENTS_PER_SEGMENT,
      outcome: outcomeFor(input.message),
      sentNowAtMs: null,
      cancelledAtMs: null,
    };
    this.records.push(record);
    return this.viewOf(record);
  }

  find(id: string): BatchView | null {
    const record = this.records.find((candidate) => candidate.id === id);
    return record ? this.viewOf(record) : null;
  }

  /** Newest first, as PassEntry lists batches. */
  newestFirst(): BatchView[] {
    return this.records.map((record) => this.viewOf(record)).reverse();
  }

  /** Send-now is only allowed while scheduled: it skips the rest of the wait and starts sending. */
  sendNow(id: string): TransitionResult {
    return this.transition(id, ["scheduled"], (record, at) => {
      record.sentNowAtMs = at;
    });
  }

  /** Cancel is only allowed before sending starts. */
  cancel(id: string): TransitionResult {
    return this.transition(id, ["validating", "scheduled"], (record, at) => {
      record.cancelledAtMs = at;
    });
  }

  snapshots(): SandboxBatch[] {
    return this.records.map((record) => this.snapshotOf(record));
  }

  clear(): void {
    this.records = [];
  }

  private transition(
    id: string,
    allowedFrom: BatchStatus[],
    apply: (record: BatchRecord, at: number) => void,
  ): TransitionResult {
    const record = this.records.find((candidate) => candidate.id === id);
    if (!record) return { ok: false, reason: "not-found" };
    const { status } = this.lifecycleOf(record);
    if (!allowedFrom.includes(status)) return { ok: false, reason: "wrong-status", status };
    apply(record, this.now());
    return { ok: true, view: this.viewOf(record) };
  }

  /**
   * validating --validatingMs--> scheduled | failed
   * scheduled --scheduledMs (or send-now)--> sending --sendingMs--> successful | completedWithErrors
   * validating | scheduled --cancel--> cancelled
   */
  private lifecycleOf(record: BatchRecord): { status: BatchStatus; completedAtMs: number | null } {
    if (record.cancelledAtMs !== null) return { status: "cancelled", completedAtMs: record.cancelledAtMs };
    const nowMs = this.now();
    const validatedAtMs = record.createdAtMs + this.timings.validatingMs;
    if (nowMs < validatedAtMs) return { status: "validating", completedAtMs: null };
    if (record.outcome === "failed") return { status: "failed", completedAtMs: validatedAtMs };
    const dueAtMs = this.timings.honourScheduledAt
      ? Math.max(validatedAtMs, Date.parse(record.scheduledAt))
      : validatedAtMs + this.timings.scheduledMs;
    const sendingAtMs = record.sentNowAtMs ?? dueAtMs;
    if (nowMs < sendingAtMs) return { status: "scheduled", completedAtMs: null };
    const doneAtMs = sendingAtMs + this.timings.sendingMs;
    if (nowMs < doneAtMs) return { status: "sending", completedAtMs: null };
    return { status: record.outcome, completedAtMs: doneAtMs };
  }

  private viewOf(record: BatchRecord): BatchView {
    const { status, completedAtMs } = this.lifecycleOf(record);
    return {
      id: record.id,
      name: record.name,
      tag: record.tag,
      message: record.message,
      scheduledAt: record.scheduledAt,
      status,
      // The audience is only known once validation has run.
      totalCount: status === "validating" ? null : record.recipientCount,
      completedAtMs,
    };
  }

  private snapshotOf(record: BatchRecord): SandboxBatch {
    const view = this.viewOf(record);
    return {
      id: record.id,
      entityId: record.entityId,
      body: record.body,
      name: record.name,
      tag: record.tag,
      message: record.message,
      scheduledAt: record.scheduledAt,
      createdAt: iso(record.createdAtMs),
      status: view.status,
      totalCount: view.totalCount,
      sentNowAt: record.sentNowAtMs === null ? null : iso(record.sentNowAtMs),
      cancelledAt: record.cancelledAtMs === null ? null : iso(record.cancelledAtMs),
    };
  }
}
