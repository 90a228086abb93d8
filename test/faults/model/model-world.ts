/**
 * The model of issues 10 and 14: what callers ask for (intents), what the system must guarantee
 * (invariants), and the commands fast-check interleaves. It knows nothing of the ledger's API: it
 * reads what a caller or PassEntry would see, through model-rig.ts.
 *
 * Batches are attributed by CONTENT, never by our marker format: each intent has its own message
 * text, and the parts (chunks) of a long recipient list carry distinct pass ids, so "which part of
 * which request is this batch" is read from what PassEntry received.
 *
 * Shared batches (issue 14). Some intents are one-recipient requests of ONE message template
 * (`SHARED_MESSAGE`) made through the HTTP door, so that a delivery holding several of them sends
 * them in one PassEntry batch: most from one caller with distinct passes, one from another caller,
 * one opting out (`coalesce: false`), one naming a pass another already names, and one whose
 * recipient PassEntry refuses (so a refused shared batch is halved, under faults too). Their
 * batches share a message, so a recipient is attributed by its `variables.member` (the intent's
 * label): a shared batch counts once for EACH member it carries, and every invariant below is judged
 * per member request, never per group. (Two members may name one pass: each is still sent once.)
 *
 * Invariants
 *  (1) At most one PassEntry batch per (request, part), ever; and a part the request shows with a
 *      batch id names a batch carrying that part's own content; and a part whose content is in a
 *      batch shows that batch (or says its outcome is unknown): nothing is sent behind its back.
 *  (2) Cancel. (a) After a DELETE answered 202 showing a part `cancelled`, no POST for that part
 *      goes out; and no POST goes out for a part whose cancel was acknowledged before the posting
 *      worker last consulted the ledger about it. (The literal "acknowledged before the POST" cannot
 *      hold for any design: between a worker's last check and its POST there is always a moment in
 *      which a DELETE can land. What can hold is that nobody posts on a view of the ledger older
 *      than the acknowledgement.) (b) After the quiet drain, every batch of a request whose cancel
 *      was acknowledged is `cancelled` at PassEntry, or PassEntry had already started or finished it
 *      and the request's part says so (a note or reason about the cancellation, or the very status
 *      PassEntry reports). A batch still `validating` or `scheduled` after the drain is a violation
 *      whatever the notes say: it will be delivered. A shared batch (carrying several requests)
 *      is judged so only when every request it carries had its cancel acknowledged; otherwise it
 *      rightly goes ahead, and each member whose cancel was acknowledged must say why in a note or
 *      reason (the status alone does not tell a caller that its cancel lost to the others').
 *      (c) A batch is cancelled at PassEntry only if every request it carries asked (a DELETE was
 *      at least tried for each): one member's cancel never stops another's message.
 *  (3) After the quiet drain every accepted request is `submitted`, `failed`, `cancelled`,
 *      dead-lettered (its message is in the dead-letter queue), or `unknown` with the unknown-outcome
 *      hook called for each unknown part. Anything else is a request silently lost. A member whose
 *      own recipient is good never ends `failed`: one refused pass fails only its own request.
 *  (4) Follow-ups are not lost (issue 10 item 6): after the quiet drain a send-now part was sent now
 *      at PassEntry, and every part's status matches PassEntry's, unless a note on the part says why
 *      not or a follow-up of the request was dead-lettered. A member sees its shared batch's status
 *      through its own GET (which reads the group's part), and a dead-lettered follow-up of its group
 *      excuses it as one of its own would.
 *  (5) Who may share a batch: the requests of one caller only (a batch's id, counts and CSVs would
 *      show one caller another's recipients), never a request that opted out, never one pass twice.
 */
import fc from "fast-check";
import {
  describeFault,
  faultFits,
  ModelRig,
  MODEL_EPOCH,
  REFUSED_PASS,
  short,
  type ActorName,
  type CallerName,
  type CallFault,
  type HomeName,
  type ModelBatch,
  type ModelRigOptions,
  type PassEntryFault,
  type Port,
  type RequestView,
} from "./model-rig.js";

export const ENTITY = "model-entity";
const PARTS_OF = 500;

/** The message template of the shared-batch intents: send now, one recipient each, told apart by `variables.member`. */
export const SHARED_MESSAGE = "Model S: welcome, %{member}";

/** One thing a caller asks for, through one door. */
export interface Intent {
  label: string;
  door: "http" | "sqs";
  /** Unique per intent (except for shared-batch members, which share SHARED_MESSAGE): how its batches are recognised at PassEntry. */
  message: string;
  parts: number;
  sendNow: boolean;
  /** The batch as the caller sends it at time `now`. */
  batch(now: number): Record<string, unknown>;
  /** Whose API key makes the HTTP request. Default crm. */
  caller?: CallerName;
  /** A one-recipient request of the shared template; `refused`: PassEntry refuses its pass (and any batch carrying it). */
  member?: { pass: string; refused: boolean };
}

export function recipients(label: string, count: number): { passId: string }[] {
  return Array.from({ length: count }, (_, i) => ({ passId: `${label}-p${i}` }));
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * A one-recipient send-now request of the shared template, whose recipient carries its label in
 * `variables.member` (how the model tells members of one shared batch apart).
 */
export function memberIntent(
  label: string,
  options: { pass?: string; caller?: CallerName; coalesce?: false; refused?: boolean } = {},
): Intent {
  const pass = options.pass ?? `${label}-p0`;
  const refused = options.refused === true;
  const variables = { member: label, ...(refused ? { reward: `unknown pass ${REFUSED_PASS}` } : {}) };
  return {
    label,
    door: "http",
    message: SHARED_MESSAGE,
    parts: 1,
    sendNow: true,
    caller: options.caller ?? "crm",
    member: { pass, refused },
    batch: () => ({
      message: SHARED_MESSAGE,
      recipients: [{ passId: pass, variables }],
      ...(options.coalesce === false ? { coalesce: false } : {}),
    }),
  };
}

/**
 * The requests that may share a PassEntry batch: S1–S3 of one caller with distinct passes; X of the
 * same caller, whose pass PassEntry refuses; O of another caller; N opting out; R naming S1's pass.
 */
export function sharingIntents(): Intent[] {
  return [
    memberIntent("S1"),
    memberIntent("S2"),
    memberIntent("S3"),
    memberIntent("X", { refused: true }),
    memberIntent("O", { caller: "shop" }),
    memberIntent("N", { coalesce: false }),
    memberIntent("R", { pass: "S1-p0" }),
  ];
}

/** The model run's requests: scheduled, send-now, two parts, a raw SQS-door message without requestId, and the shared-batch members. */
export function defaultIntents(): Intent[] {
  return [...singleIntents(), ...sharingIntents()];
}

/** Issue 10's requests, each its own batch(es): scheduled, send-now, two parts, and a raw SQS-door message without requestId. */
export function singleIntents(): Intent[] {
  return [
    // Scheduled 70 min ahead: tracked through notBefore hops until the sandbox sends it.
    {
      label: "A",
      door: "http",
      message: "Model A: scheduled in 70 minutes",
      parts: 1,
      sendNow: false,
      batch: (now) => ({
        message: "Model A: scheduled in 70 minutes",
        segments: [{ groupTag: "model-a" }],
        scheduledAt: iso(now + 70 * 60_000),
      }),
    },
    // Send now: created an hour ahead, then the send-now follow-up chain.
    {
      label: "B",
      door: "http",
      message: "Model B: send now",
      parts: 1,
      sendNow: true,
      batch: () => ({ message: "Model B: send now", segments: [{ groupTag: "model-b" }] }),
    },
    // 501 recipients: two parts, two business keys.
    {
      label: "C",
      door: "http",
      message: "Model C: two parts",
      parts: 2,
      sendNow: false,
      batch: () => ({
        message: "Model C: two parts",
        recipients: recipients("C", 501),
        scheduledAt: "2030-03-31T13:16:26Z",
      }),
    },
    // Another AWS service's SendMessage without requestId (issue 10 item 8).
    {
      label: "D",
      door: "sqs",
      message: "Model D: from the SQS door",
      parts: 1,
      sendNow: false,
      batch: (now) => ({
        message: "Model D: from the SQS door",
        recipients: recipients("D", 2),
        scheduledAt: iso(now + 75 * 60_000),
      }),
    },
  ];
}

/** A broken invariant, with the end of the run's trace so a shrunk counterexample reads on its own. */
export class ModelViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
    trace: string[],
    /** A batch id the violation is about: the trace is shown up to its creation rather than to the end. */
    focus?: string,
  ) {
    const at = focus === undefined ? -1 : trace.findIndex((line) => line.includes(`created batch ${short(focus)}`));
    const end = at === -1 ? trace.length : at + 6;
    // MODEL_TRACE=full shows the whole run (to study a counterexample), not just its last 60 steps.
    const shown = process.env.MODEL_TRACE === "full" ? trace : trace.slice(Math.max(0, end - 60), end);
    const where = at === -1 ? "Last steps of the run" : `The run up to the creation of batch ${short(focus!)}`;
    super(`Invariant ${invariant} broken: ${detail}\n${where}:\n  ${shown.join("\n  ")}`);
    this.name = "ModelViolation";
  }
}

interface Accepted {
  requestId: string | undefined;
  at: number;
}

export class World {
  readonly accepted = new Map<string, Accepted>();
  readonly refused = new Map<string, string>();
  /** Intents someone tried to cancel (whether or not the DELETE was answered 202). */
  readonly cancelTried = new Set<string>();
  /** Where the quiet drain began (a rig sequence number): what happened before it happened under faults. */
  private drainFrom = Infinity;
  private readonly byLabel: Map<string, Intent>;

  constructor(
    readonly rig: ModelRig,
    readonly intents: Intent[],
  ) {
    this.byLabel = new Map(intents.map((i) => [i.label, i]));
  }

  intent(label: string): Intent {
    const intent = this.byLabel.get(label);
    if (!intent) throw new Error(`The model has no intent ${label}.`);
    return intent;
  }

  /** The caller asks (atomically: the accept path is not gated). */
  async submit(label: string): Promise<void> {
    const intent = this.intent(label);
    const now = this.rig.clock.now();
    if (intent.door === "sqs") {
      await this.rig.submitSqs({ entityId: ENTITY, batch: intent.batch(now) }, label);
      this.accepted.set(label, { requestId: undefined, at: now });
      return;
    }
    const answer = await this.rig.submitHttp(ENTITY, intent.batch(now), label, intent.caller);
    if (answer.status === 202) this.accepted.set(label, { requestId: answer.requestId, at: now });
    else this.refused.set(label, `${answer.status}: ${answer.errors.join("; ")}`);
  }

  /** DELETE /api/v1/requests/{id} of an accepted HTTP intent, started (the canceller then waits at its gates). */
  async startCancel(label: string): Promise<void> {
    const requestId = this.accepted.get(label)?.requestId;
    if (requestId === undefined) throw new Error(`${label} has no request id to cancel.`);
    this.cancelTried.add(label);
    await this.rig.startCancel(requestId);
  }

  /** DELETE, run to its answer without interruption (regressions). Returns the status. */
  async cancel(label: string): Promise<number> {
    await this.startCancel(label);
    await this.rig.runToEnd(this.rig.cancellerName);
    return this.rig.cancelAnswers.at(-1)?.status ?? 0;
  }

  /** The request ids the system keeps for an intent: ours for HTTP, whatever the sender stored for raw SQS messages. */
  requestIdsOf(intent: Intent): string[] {
    if (intent.door === "http") {
      const id = this.accepted.get(intent.label)?.requestId;
      return id === undefined ? [] : [id];
    }
    return this.rig.requestIdsCarrying(intent.message);
  }

  /**
   * Which intents' parts a PassEntry batch carries, read from its content: one for a batch of its
   * own, every member for a shared batch (each recipient names its member in `variables.member`).
   */
  carried(batch: ModelBatch): { intent: Intent; part: number }[] {
    if (batch.message === SHARED_MESSAGE) {
      const labels = new Set(
        (batch.body.batch?.recipients ?? []).map((r) => (r as { variables?: { member?: string } }).variables?.member),
      );
      return this.intents
        .filter((i) => i.member !== undefined && labels.has(i.label))
        .map((intent) => ({ intent, part: 0 }));
    }
    const intent = this.intents.find((i) => i.message === batch.message);
    if (!intent) return [];
    const first = batch.body.batch?.recipients?.[0]?.passId;
    const index = first === undefined ? 0 : Number(/-p(\d+)$/.exec(first)?.[1] ?? 0);
    return [{ intent, part: Math.floor(index / PARTS_OF) }];
  }

  /** Whether the batch carries this intent's part. */
  carries(batch: ModelBatch, intent: Intent, part: number): boolean {
    return this.carried(batch).some((c) => c.intent === intent && c.part === part);
  }

  fail(invariant: string, detail: string, focus?: string): never {
    throw new ModelViolation(invariant, detail, this.rig.trace, focus);
  }

  /** The 202 answers to DELETEs of this request, earliest first. */
  private acknowledgedCancels(requestId: string) {
    return this.rig.cancelAnswers.filter((a) => a.requestId === requestId && a.status === 202);
  }

  // -------------------------------------------------------------------------------------------
  // Invariants that must hold after every command.

  checkSafety(after: string): void {
    const snapshot = this.rig.passEntry.batches();
    const batches = new Map(snapshot.map((b) => [b.id, b]));
    const perPart = new Map<string, string[]>();
    for (const creation of this.rig.passEntry.creations) {
      const batch = batches.get(creation.batchId);
      if (!batch) continue;
      for (const owner of this.carried(batch)) {
        const part = `${owner.intent.label}#${owner.part}`;
        const list = [...(perPart.get(part) ?? []), creation.batchId];
        perPart.set(part, list);
        if (list.length > 1)
          this.fail(
            "1 (at most one batch per part)",
            `${part} reached PassEntry ${list.length} times (batches ${list.map(short).join(", ")}), after ${after}.`,
            creation.batchId,
          );

        for (const requestId of this.requestIdsOf(owner.intent)) {
          const acks = this.acknowledgedCancels(requestId);
          const first = acks[0];
          if (!first) continue;
          const shownCancelled = acks.find(
            (a) => a.shownStates.get(owner.part) === "cancelled" && a.seq < creation.requestSeq,
          );
          if (shownCancelled) {
            this.fail(
              "2a (cancel acknowledged before a POST)",
              `the DELETE of ${requestId} answered part #${owner.part} "cancelled" at ${clock(shownCancelled.at)}, yet ${creation.actorId} posted it afterwards (batch ${short(creation.batchId)}), after ${after}.`,
              creation.batchId,
            );
          }
          const consult = this.lastConsult(creation.actorId, requestId, owner.part, creation.requestSeq);
          if (consult !== undefined && first.seq < consult) {
            this.fail(
              "2a (cancel acknowledged before a POST)",
              `the DELETE of ${requestId} was acknowledged (202 at ${clock(first.at)}) before ${creation.actorId} last consulted the ledger about part #${owner.part}, and ${creation.actorId} still posted it (batch ${short(creation.batchId)}), after ${after}.`,
              creation.batchId,
            );
          }
        }
      }
    }
    for (const batch of snapshot) {
      // (5) Who may share: one caller's requests only, never one that opted out, never one pass twice.
      const members = this.carried(batch);
      if (members.length > 1) {
        const callers = new Set(members.map((m) => m.intent.caller ?? "crm"));
        const optedOut = members.filter((m) => (m.intent.batch(0) as { coalesce?: boolean }).coalesce === false);
        const passes = (batch.body.batch?.recipients ?? []).map((r) => r.passId);
        const repeated = passes.filter((p, i) => passes.indexOf(p) !== i);
        const wrong =
          callers.size > 1
            ? `requests of ${[...callers].join(" and ")}`
            : optedOut.length > 0
              ? `${optedOut.map((m) => m.intent.label).join(", ")}, which opted out (coalesce: false)`
              : repeated.length > 0
                ? `pass ${repeated[0]} twice`
                : undefined;
        if (wrong)
          this.fail(
            "5 (who may share a batch)",
            `batch ${short(batch.id)} carries ${members.map((m) => m.intent.label).join(", ")}: ${wrong}, after ${after}.`,
            batch.id,
          );
      }
      // (2c) Cancelling a batch stops every message in it: only when every request it carries asked.
      if (batch.status !== "cancelled") continue;
      const unasked = this.carried(batch).filter((c) => !this.cancelTried.has(c.intent.label));
      if (unasked.length > 0) {
        this.fail(
          "2c (a batch is cancelled only when all it carries asked)",
          `batch ${short(batch.id)} was cancelled at PassEntry, but it carries ${unasked.map((c) => `${c.intent.label}#${c.part}`).join(", ")}, which nobody asked to cancel, after ${after}.`,
          batch.id,
        );
      }
    }
  }

  private lastConsult(actorId: string, requestId: string, part: number, before: number): number | undefined {
    const consults = this.rig.ledgerConsults;
    for (let i = consults.length - 1; i >= 0; i--) {
      const c = consults[i]!;
      if (
        c.seq < before &&
        c.actorId === actorId &&
        c.requestId === requestId &&
        (c.chunk === undefined || c.chunk === part)
      )
        return c.seq;
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // The end of a run.

  /** Quiet drain, then every invariant. */
  async drainAndCheck(): Promise<void> {
    this.rig.note("— quiet drain —");
    this.drainFrom = this.rig.nextSeq();
    const drained = await this.rig.quietDrain();
    if (!drained)
      this.fail(
        "3 (every request reaches an end)",
        `the quiet drain was still delivering after 2,000 deliveries (queue: ${this.rig.liveMessages().length} live messages).`,
      );
    await this.checkFinal();
  }

  async checkFinal(): Promise<void> {
    this.checkSafety("the quiet drain");
    const batches = this.rig.passEntry.batches();
    const byId = new Map(batches.map((b) => [b.id, b]));
    const deadBodies = this.rig.deadLetters().map((d) => d.body);

    for (const intent of this.intents) {
      if (!this.accepted.has(intent.label)) continue;
      const requestIds = this.requestIdsOf(intent);
      const views = new Map<string, RequestView>();
      for (const id of requestIds) {
        const view = await this.rig.view(id);
        if (view) views.set(id, view);
      }
      // A dead letter carrying the intent's send request. Members share their message text: theirs is told by its request id.
      const deadLettered = deadBodies.some(
        (b) =>
          b.includes(intent.message) &&
          (intent.member === undefined || requestIds.some((id) => b.includes(JSON.stringify(id)))),
      );
      const ours = this.batchesOf(intent, batches);

      for (const [id, view] of views) {
        for (const part of view.parts) {
          // (1b) a part that names a batch names one carrying its own content.
          if (part.batchId !== null) {
            const batch = byId.get(part.batchId);
            if (!batch || !this.carries(batch, intent, part.chunk)) {
              const owners = batch ? this.carried(batch) : [];
              const what = batch
                ? owners.length > 0
                  ? `${owners.map((o) => `part #${o.part} of ${o.intent.label}`).join(", ")}`
                  : `someone else's batch ("${batch.message}", named "${batch.name}")`
                : "no batch PassEntry knows";
              this.fail(
                "1 (a part's batch is its own)",
                `${intent.label} (${id}) part #${part.chunk} is recorded as batch ${short(part.batchId)}, which is ${what}: ${intent.label}'s own content ${ours.length === 0 ? "never reached PassEntry" : "is elsewhere"}.`,
              );
            }
          }
          // (1c) a part whose content reached PassEntry shows that batch, unless its outcome is unknown.
          for (const batch of ours) {
            if (!this.carries(batch, intent, part.chunk) || part.batchId === batch.id || part.state === "unknown")
              continue;
            this.fail(
              "1 (a part carried by a batch says so)",
              `${intent.label} (${id}) part #${part.chunk} ends "${part.state}"${part.batchId ? ` with batch ${short(part.batchId)}` : ""}, yet batch ${short(batch.id)} ("${batch.status}" at PassEntry) carries it (part: ${JSON.stringify(part)}).`,
              batch.id,
            );
          }
        }
      }

      // (2b) an acknowledged cancel ends every batch cancelled, or says why not.
      for (const id of requestIds) {
        if (this.acknowledgedCancels(id).length === 0) continue;
        for (const batch of ours) {
          const part = this.carried(batch).find((c) => c.intent === intent)!.part;
          if (batch.status === "cancelled") continue;
          const shown = views.get(id)?.parts.find((p) => p.chunk === part);
          const noted = [shown?.note, shown?.reason].some((t) => t != null && /cancel/i.test(t));
          const others = this.carried(batch).filter((c) => c.intent !== intent);
          const othersAcknowledged = others.every((c) =>
            this.requestIdsOf(c.intent).some((other) => this.acknowledgedCancels(other).length > 0),
          );
          if (!othersAcknowledged) {
            // A shared batch someone else still wants: it goes ahead, and this member is told why.
            if (!noted) {
              this.fail(
                "2b (an acknowledged cancel wins)",
                `${intent.label} (${id}): the cancel was acknowledged, and its shared batch ${short(batch.id)} rightly went ahead ("${batch.status}" at PassEntry) for ${others.map((o) => o.intent.label).join(", ")}, but the request does not say why its cancel did not stop it (part: ${JSON.stringify(shown ?? null)}).`,
                batch.id,
              );
            }
            continue;
          }
          if (batch.status === "validating" || batch.status === "scheduled") {
            this.fail(
              "2b (an acknowledged cancel wins)",
              `${intent.label} (${id}) part #${part}: the cancel was acknowledged${others.length > 0 ? ` (as were those of ${others.map((o) => o.intent.label).join(", ")}, the other requests its shared batch carries)` : ""}, yet after the quiet drain its batch ${short(batch.id)} is still "${batch.status}" at PassEntry and will be delivered.`,
              batch.id,
            );
          }
          // Saying why: a note or reason about the cancellation, or (a batch of its own) the part showing the status PassEntry reports, one it can no longer cancel from.
          const says = noted || (others.length === 0 && shown?.batchStatus === batch.status);
          if (!says)
            this.fail(
              "2b (an acknowledged cancel wins)",
              `${intent.label} (${id}) part #${part}: the cancel was acknowledged, its batch ${short(batch.id)} went ahead ("${batch.status}" at PassEntry), and the request does not say why (part: ${JSON.stringify(shown ?? null)}).`,
              batch.id,
            );
        }
      }

      // (3) every accepted request reaches an end.
      if (requestIds.length === 0 && !deadLettered)
        this.fail(
          "3 (every request reaches an end)",
          `${intent.label} was accepted but the system has no record of it and no dead letter carries it: lost.`,
        );
      for (const [id, view] of views) {
        if (intent.member && !intent.member.refused && view.status === "failed") {
          this.fail(
            "3 (one bad pass fails only its own request)",
            `${intent.label} (${id}), whose own recipient PassEntry accepts, ends "failed" (parts: ${JSON.stringify(view.parts)}).`,
          );
        }
        if (["submitted", "failed", "cancelled"].includes(view.status)) continue;
        if (view.status === "unknown") {
          for (const part of view.parts.filter((p) => p.state === "unknown")) {
            if (!this.rig.unknownOutcomes.some((k) => k.requestId === id && k.chunk === part.chunk)) {
              this.fail(
                "3 (unknown means the hook was called)",
                `${intent.label} (${id}) part #${part.chunk} is unknown but the unknown-outcome hook (the UnknownOutcomes metric) was never called for it.`,
              );
            }
          }
          continue;
        }
        if (!deadLettered)
          this.fail(
            "3 (every request reaches an end)",
            `${intent.label} (${id}) ends "${view.status}" (parts: ${JSON.stringify(view.parts)}) and no dead letter carries it: silently lost.`,
          );
      }

      // (4) follow-ups are not lost. A request someone tried to cancel is judged by (2) instead: a
      // DELETE that died half-way may have stamped the ledger, and then skipping send-now is a choice.
      if (this.cancelTried.has(intent.label)) continue;
      for (const [id, view] of views) {
        // A follow-up of it (or of the shared batch it rides in) was dead-lettered: an operator's turn.
        const groups = view.parts.map((p) => p.groupId).filter((g): g is string => g !== null);
        if (deadBodies.some((b) => [id, ...groups].some((g) => b.includes(JSON.stringify(g))))) continue;
        for (const part of view.parts) {
          if (part.batchId === null || part.note !== null) continue;
          const batch = byId.get(part.batchId);
          if (!batch) continue;
          if (intent.sendNow && batch.sentNowAt === null) {
            this.fail(
              "4 (follow-ups are not lost)",
              `${intent.label} (${id}) part #${part.chunk} asked to be sent now, but after the quiet drain PassEntry never got send-now for batch ${short(batch.id)} ("${batch.status}", scheduled for ${batch.scheduledAt}) and nothing says why.`,
              batch.id,
            );
          }
          if (part.batchStatus !== batch.status) {
            this.fail(
              "4 (follow-ups are not lost)",
              `${intent.label} (${id}) part #${part.chunk} shows "${part.batchStatus}" while PassEntry says "${batch.status}" after the quiet drain: nobody is tracking it and nothing says why.`,
              batch.id,
            );
          }
        }
      }
    }
  }

  /**
   * What this run exercised of shared batches (the survey counts it, so that "every run held" is
   * known to mean something): POSTs carrying several members, such POSTs PassEntry refused or met
   * with a fault, batches created for several members, crashes at a group's steps, members' cancels.
   */
  coverage(): Coverage {
    const membersIn = (body: unknown) => {
      const recipients = (
        body as { batch?: { message?: string; recipients?: { variables?: { member?: string } }[] } } | undefined
      )?.batch;
      return recipients?.message === SHARED_MESSAGE
        ? (recipients.recipients ?? []).map((r) => r.variables?.member ?? "")
        : [];
    };
    const sharedPosts = this.rig.passEntry.calls.filter((c) => c.op === "createBatch" && membersIn(c.body).length > 1);
    const refused = new Set(this.intents.filter((i) => i.member?.refused).map((i) => i.label));
    const batches = new Map(this.rig.passEntry.batches().map((b) => [b.id, b]));
    const sharedBatches = this.rig.passEntry.creations.filter((c) =>
      batches.get(c.batchId) ? this.carried(batches.get(c.batchId)!).length > 1 : false,
    );
    const memberIds = new Set(
      [...this.accepted].filter(([label]) => this.byLabel.get(label)?.member).map(([, a]) => a.requestId),
    );
    const memberCancels = this.rig.cancelAnswers.filter((a) => a.status === 202 && memberIds.has(a.requestId));
    const firstShared = sharedBatches[0]?.effectSeq ?? Infinity;
    return {
      sharedPosts: sharedPosts.length,
      sharedPostsUnderFaults: sharedPosts.filter((c) => c.seq < this.drainFrom).length,
      refusedSharedPosts: sharedPosts.filter(
        (c) => c.fault === undefined && membersIn(c.body).some((m) => refused.has(m)),
      ).length,
      faultedSharedPosts: sharedPosts.filter((c) => c.fault !== undefined).length,
      sharedBatches: sharedBatches.length,
      // At a group's own ledger entry or stored request (on DynamoDB, its item), or at the joins' and settles' writeMany.
      groupCrashes: this.rig.crashes.filter(
        (c) => c.requestId?.startsWith("grp-") || c.detail.includes("grp-") || c.op === "writeMany",
      ).length,
      memberCancels: memberCancels.length,
      memberCancelsAfterSharedBatch: memberCancels.filter((a) => a.seq > firstShared).length,
    };
  }

  batchesOf(intent: Intent, batches = this.rig.passEntry.batches()): ModelBatch[] {
    return batches.filter((b) => this.carried(b).some((c) => c.intent === intent));
  }
}

export interface Coverage {
  sharedPosts: number;
  sharedPostsUnderFaults: number;
  refusedSharedPosts: number;
  faultedSharedPosts: number;
  sharedBatches: number;
  groupCrashes: number;
  memberCancels: number;
  memberCancelsAfterSharedBatch: number;
}

function clock(at: number): string {
  return `t+${((at - MODEL_EPOCH) / 1000).toFixed(1)}s`;
}

// ---------------------------------------------------------------------------------------------
// Commands. `check` reads the rig's real state (the model is the world itself), so a command that
// cannot apply is skipped and does not appear in a counterexample.

type Cmd = fc.AsyncCommand<World, World>;

class Submit implements Cmd {
  constructor(readonly label: string) {}
  check = (w: World) => !w.accepted.has(this.label) && !w.refused.has(this.label);
  async run(w: World) {
    await w.submit(this.label);
    w.checkSafety(this.toString());
  }
  toString = () => `Submit(${this.label})`;
}

class Receive implements Cmd {
  constructor(
    readonly worker: ActorName,
    readonly max: number,
  ) {}
  check = (w: World) => w.rig.isIdle(this.worker) && w.rig.hasVisibleMessage();
  async run(w: World) {
    w.rig.note(`» ${this.toString()}`);
    // Both homes hand a worker several messages at once (SQS batches; the embedded home's runner gathers too).
    await w.rig.receive(this.worker, this.max);
    w.checkSafety(this.toString());
  }
  toString = () => `Receive(${this.worker}${this.max > 1 ? `, up to ${this.max}` : ""})`;
}

class Step implements Cmd {
  constructor(
    readonly actor: ActorName,
    readonly fault?: CallFault,
  ) {}
  check = (w: World) => {
    const call = w.rig.parkedCall(this.actor);
    return call !== undefined && (this.fault === undefined || faultFits(this.fault, call));
  };
  async run(w: World) {
    await w.rig.step(this.actor, this.fault);
    w.checkSafety(this.toString());
  }
  toString = () => `Step(${this.actor}${this.fault ? `, ${describeFault(this.fault)}` : ""})`;
}

/** Runs an actor (no faults) until it is about to call `port`, or to the end of its invocation. */
class RunTo implements Cmd {
  constructor(
    readonly actor: ActorName,
    readonly port: Port | "end",
  ) {}
  check = (w: World) => w.rig.parkedCall(this.actor) !== undefined;
  async run(w: World) {
    // Always make the current call first, so the command moves on even when already at such a call.
    await w.rig.step(this.actor);
    while (w.rig.parkedCall(this.actor) !== undefined && w.rig.parkedCall(this.actor)?.port !== this.port) {
      await w.rig.step(this.actor);
      w.checkSafety(this.toString());
    }
    w.checkSafety(this.toString());
  }
  toString = () => (this.port === "end" ? `RunToEnd(${this.actor})` : `RunTo(${this.actor}, next ${this.port} call)`);
}

/**
 * Runs a worker (no faults) to its next PassEntry call and makes that call meet `fault`: a POST of a
 * shared batch lies many gates deep in an invocation, where single steps rarely reach.
 */
class FaultAtPassEntry implements Cmd {
  constructor(
    readonly actor: ActorName,
    readonly fault: PassEntryFault,
  ) {}
  check = (w: World) => w.rig.parkedCall(this.actor) !== undefined;
  async run(w: World) {
    while (w.rig.parkedCall(this.actor) !== undefined && w.rig.parkedCall(this.actor)?.port !== "passEntry") {
      await w.rig.step(this.actor);
      w.checkSafety(this.toString());
    }
    const call = w.rig.parkedCall(this.actor);
    if (call !== undefined && faultFits(this.fault, call)) await w.rig.step(this.actor, this.fault);
    w.checkSafety(this.toString());
  }
  toString = () => `FaultAtPassEntry(${this.actor}, ${describeFault(this.fault)})`;
}

/** Steps an actor (no faults) `steps` times, then crashes it wherever it is: crashes at any depth of an invocation. */
class CrashAfter implements Cmd {
  constructor(
    readonly actor: ActorName,
    readonly steps: number,
  ) {}
  check = (w: World) => w.rig.parkedCall(this.actor) !== undefined;
  async run(w: World) {
    for (let i = 0; i < this.steps && w.rig.parkedCall(this.actor) !== undefined; i++) {
      await w.rig.step(this.actor);
      w.checkSafety(this.toString());
    }
    if (w.rig.parkedCall(this.actor) !== undefined) await w.rig.crash(this.actor);
    w.checkSafety(this.toString());
  }
  toString = () => `CrashAfter(${this.actor}, ${this.steps} steps)`;
}

class Crash implements Cmd {
  constructor(readonly actor: ActorName) {}
  check = (w: World) => w.rig.parkedCall(this.actor) !== undefined;
  async run(w: World) {
    await w.rig.crash(this.actor);
    w.checkSafety(this.toString());
  }
  toString = () => `Crash(${this.actor})`;
}

class Advance implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(w: World) {
    w.rig.advance(this.ms);
    w.rig.note(`» ${this.toString()}`);
    w.checkSafety(this.toString());
  }
  toString = () => `Advance(${this.ms / 1000} s)`;
}

class Duplicate implements Cmd {
  constructor(
    readonly worker: ActorName,
    readonly index: number,
  ) {}
  check = (w: World) => w.rig.isIdle(this.worker) && w.rig.liveMessages().length > 0;
  async run(w: World) {
    await w.rig.deliverCopy(this.worker, this.index);
    w.checkSafety(this.toString());
  }
  toString = () => `DuplicateTo(${this.worker}, message ${this.index})`;
}

class Cancel implements Cmd {
  constructor(readonly label: string) {}
  check = (w: World) => w.rig.isIdle(w.rig.cancellerName) && w.accepted.get(this.label)?.requestId !== undefined;
  async run(w: World) {
    await w.startCancel(this.label);
    w.checkSafety(this.toString());
  }
  toString = () => `Cancel(${this.label})`;
}

class Redrive implements Cmd {
  check = (w: World) => w.rig.deadLetters().length > 0;
  async run(w: World) {
    await w.rig.redrive();
    w.checkSafety(this.toString());
  }
  toString = () => "Redrive";
}

/** The PassEntry faults a step may carry. */
export const PASSENTRY_FAULTS: readonly PassEntryFault[] = [
  { kind: "429", retryAfter: "0.35" },
  { kind: "429" },
  { kind: "5xx", status: 500, afterEffect: false },
  { kind: "5xx", status: 502, afterEffect: true },
  { kind: "timeout", effect: "never" },
  { kind: "timeout", effect: "before-timeout" },
  // Within the README's premise: PassEntry shows a batch well before the claim's lease lapses.
  { kind: "timeout", effect: { lateMs: 20_000 } },
  { kind: "drop-after-effect" },
  { kind: "slow", ms: 10_000 },
];

export interface CommandOptions {
  workers: ActorName[];
  canceller: ActorName;
  intents: Intent[];
}

/** One weighted arbitrary over every command. */
export function commandArbitrary(options: CommandOptions): fc.Arbitrary<Cmd> {
  const workers = fc.constantFrom(...options.workers);
  const actors = fc.constantFrom(...options.workers, options.canceller);
  const labels = options.intents.map((i) => i.label);
  const cancellable = options.intents.filter((i) => i.door === "http").map((i) => i.label);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...labels).map((l): Cmd => new Submit(l)) },
    // Up to 5 messages a delivery: enough for several requests to share a batch.
    {
      weight: 5,
      arbitrary: fc.tuple(workers, fc.constantFrom(1, 3, 5, 5)).map(([w, max]): Cmd => new Receive(w, max)),
    },
    { weight: 10, arbitrary: actors.map((a): Cmd => new Step(a)) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(actors, fc.constantFrom<Port | "end">("passEntry", "ledger", "queue", "sleep", "end"))
        .map(([a, port]): Cmd => new RunTo(a, port)),
    },
    // 429s are what a busy account meets most, and what the release-and-retry paths hang on.
    {
      weight: 5,
      arbitrary: fc
        .tuple(
          workers,
          fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom(...PASSENTRY_FAULTS.slice(0, 2)) },
            { weight: 4, arbitrary: fc.constantFrom(...PASSENTRY_FAULTS.slice(2)) },
          ),
        )
        .map(([w, f]): Cmd => new Step(w, f)),
    },
    { weight: 1, arbitrary: actors.map((a): Cmd => new Step(a, { kind: "queue-send-fails" })) },
    { weight: 2, arbitrary: actors.map((a): Cmd => new Crash(a)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(workers, fc.constantFrom(...PASSENTRY_FAULTS))
        .map(([w, f]): Cmd => new FaultAtPassEntry(w, f)),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(actors, fc.integer({ min: 1, max: 40 })).map(([a, n]): Cmd => new CrashAfter(a, n)),
    },
    {
      weight: 3,
      arbitrary: fc
        .constantFrom(1_000, 12_000, 31_000, 46_000, 61_000, 91_000, 362_000)
        .map((ms): Cmd => new Advance(ms)),
    },
    { weight: 1, arbitrary: fc.tuple(workers, fc.nat(7)).map(([w, i]): Cmd => new Duplicate(w, i)) },
    { weight: 3, arbitrary: fc.constantFrom(...cancellable).map((l): Cmd => new Cancel(l)) },
    { weight: 1, arbitrary: fc.constant<Cmd>(new Redrive()) },
  );
}

// ---------------------------------------------------------------------------------------------
// The run.

/** Per run; a long run has many commands' worth of shrinking to do after a failure, too. */
const MAX_COMMANDS = 80;

/** One run: the intents submitted first, the commands against a fresh rig, then the quiet drain and every invariant. */
export async function modelRun(
  home: HomeName,
  submitted: string[],
  commands: Iterable<fc.AsyncCommand<World, World>>,
  observe?: (coverage: Coverage) => void,
  ledger?: ModelRigOptions["ledger"],
): Promise<void> {
  const rig = await ModelRig.start({ home, ...(ledger ? { ledger } : {}) });
  const world = new World(rig, defaultIntents());
  try {
    for (const label of submitted) await world.submit(label);
    await fc.asyncModelRun(() => ({ model: world, real: world }), commands);
    await world.drainAndCheck();
  } finally {
    observe?.(world.coverage());
    rig.close();
  }
}

/** The whole model run as a fast-check property: the home, the requests accepted up front, then the commands. */
export function modelProperty() {
  const intents = defaultIntents();
  const command = commandArbitrary({ workers: ["w0", "w1", "w2"], canceller: "canceller", intents });
  return fc.asyncProperty(
    fc.constantFrom<HomeName>("aws", "local"),
    // Requests already accepted when the run starts, in any order (the rest may come as Submit commands).
    fc.shuffledSubarray(
      intents.map((i) => i.label),
      { minLength: 1 },
    ),
    fc.commands([command], { maxCommands: MAX_COMMANDS, size: "max" }),
    (home, submitted, commands) => modelRun(home, submitted, commands),
  );
}
