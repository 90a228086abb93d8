/**
 * The embedded home's EventBridge Scheduler: fires each enabled promotion's hourly trigger, on the
 * UTC hour, into the same planner handler the AWS home runs, with the same event
 * (`{ promotionId, scheduledTime }`).
 *
 * It looks at the clock at least every minute rather than trusting one long timer, so a laptop
 * that slept through an hour, or a clock that jumped, is noticed promptly. On start it fires the
 * current hour at once: the process may have been down when that hour began, and the planner's
 * re-check then queues whatever can still reach PassEntry in time. Firing the same hour twice
 * is harmless (the request ids are business keys), but it does not happen: each promotion
 * remembers the last hour it fired, and a failed trigger is retried at the next check within the
 * same hour, as EventBridge Scheduler retries.
 */
import { triggerHour, TRIGGER_PERIOD_MS } from "../functions/core/plan-promotions.js";
import { systemClock, type Clock, type Log } from "../functions/core/ports.js";
import { utcIso, type PlannerEvent, type Promotion } from "../functions/core/promotions.js";

export interface PromotionSchedulerOptions {
  promotions: readonly Promotion[];
  /** The planner handler, invoked as EventBridge Scheduler would invoke it. */
  trigger: (event: PlannerEvent) => Promise<unknown>;
  log: Log;
  /** Injectable so tests move time instead of waiting for real hours. */
  clock?: Clock;
  /** Longest wait between two looks at the clock. Default 60 s. */
  maxWaitMs?: number;
}

export class PromotionScheduler {
  /** Per promotion, the last hour whose trigger succeeded. */
  private readonly lastFired = new Map<string, number>();
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Checks run one after another, so a slow planner and the timer never overlap. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PromotionSchedulerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Fires the current hour's triggers now, then each hour's as it begins, until `stop()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  /**
   * Fires every enabled promotion whose trigger for the current UTC hour has not run yet, and
   * resolves with the events it sent. Tests call this after moving their clock.
   */
  check(): Promise<PlannerEvent[]> {
    const next = this.chain.then(() => this.fireDue());
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Stops the timer and waits for a trigger in progress to finish. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }

  private async loop(): Promise<void> {
    if (!this.running) return;
    await this.check();
    if (!this.running) return;
    const untilNextHour = triggerHour(this.clock.now()) + TRIGGER_PERIOD_MS - this.clock.now();
    this.timer = setTimeout(
      () => void this.loop(),
      Math.max(50, Math.min(untilNextHour, this.options.maxWaitMs ?? 60_000)),
    );
  }

  private async fireDue(): Promise<PlannerEvent[]> {
    const hour = triggerHour(this.clock.now());
    const fired: PlannerEvent[] = [];
    for (const promotion of this.options.promotions) {
      if (!promotion.enabled) continue;
      const last = this.lastFired.get(promotion.id);
      if (last !== undefined && last >= hour) continue;
      const event: PlannerEvent = { promotionId: promotion.id, scheduledTime: utcIso(hour) };
      try {
        await this.options.trigger(event);
        this.lastFired.set(promotion.id, hour);
        fired.push(event);
      } catch (error) {
        this.options.log.error("promotion trigger failed; retrying at the next check", {
          ...event,
          error: (error as Error).message,
        });
      }
    }
    return fired;
  }
}
