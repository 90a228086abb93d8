/**
 * Keeps request starts under a rate, per key (PassEntry limits each endpoint + method separately).
 *
 * Two rules hold together: starts are spaced at least 1000/perSecond ms apart (no bursts), and no
 * second holds more than floor(perSecond) starts. The second is stretched by a small safety margin
 * so that network jitter, which can bunch arrivals at PassEntry, still stays under its
 * sliding-window limit of 10 per second when we aim at 9. With a fractional rate (4.5/s for each of
 * two Lambda workers) the window rule wins: 4 per second each, 8 in total, never 10.
 *
 * @example
 *   const pacer = new Pacer({ perSecond: 9 });
 *   await pacer.acquire("POST /api/v1/entities/:id/messaging/wallet");
 */
export interface PacerOptions {
  perSecond: number;
  /** Fraction added to the window, default 0.03 (3%). */
  safetyMargin?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

export class Pacer {
  private readonly intervalMs: number;
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly starts = new Map<string, number[]>();
  private readonly tails = new Map<string, Promise<void>>();

  constructor(options: PacerOptions) {
    if (!(options.perSecond > 0)) throw new RangeError("perSecond must be above 0");
    const margin = options.safetyMargin ?? 0.03;
    this.burst = Math.max(1, Math.floor(options.perSecond));
    this.windowMs = 1000 * (1 + margin);
    this.intervalMs = 1000 / options.perSecond;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleep;
  }

  /** Resolves when a request under `key` may start; callers are served in arrival order. */
  acquire(key: string): Promise<void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const turn = previous.then(() => this.waitForSlot(key));
    this.tails.set(key, turn);
    return turn;
  }

  private async waitForSlot(key: string): Promise<void> {
    const starts = this.starts.get(key) ?? [];
    for (;;) {
      const now = this.now();
      while (starts.length > 0 && starts[0]! <= now - this.windowMs) starts.shift();
      const last = starts[starts.length - 1];
      const spacingWait = last === undefined ? 0 : last + this.intervalMs - now;
      const windowWait = starts.length >= this.burst ? starts[0]! + this.windowMs - now : 0;
      const wait = Math.max(spacingWait, windowWait);
      if (wait <= 0) break;
      await this.sleep(wait);
    }
    // Record the actual start, not the planned one: a late timer never compresses later gaps.
    starts.push(this.now());
    this.starts.set(key, starts);
  }
}
