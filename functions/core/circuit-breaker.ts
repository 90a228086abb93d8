/**
 * Stops hammering PassEntry during an outage. After `threshold` consecutive failures that suggest
 * PassEntry is down (5xx, timeouts, dropped connections — not 429, which is PassEntry pacing us),
 * the circuit opens for a cooldown that doubles on every failed trial, up to `maxCooldownMs`. While
 * open, calls fail at once without reaching PassEntry; after the cooldown one trial call goes through
 * (half-open) and its outcome closes or re-opens the circuit.
 *
 * @example
 *   const breaker = new CircuitBreaker({ threshold: 5 });
 *   const wait = breaker.blockedForMs(); // 0 when a call may go through
 */
export interface CircuitBreakerOptions {
  threshold?: number;
  cooldownMs?: number;
  maxCooldownMs?: number;
  now?: () => number;
}

export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private cooldownMs: number;
  private trialInFlight = false;
  private readonly threshold: number;
  private readonly baseCooldownMs: number;
  private readonly maxCooldownMs: number;
  private readonly now: () => number;

  constructor(options: CircuitBreakerOptions = {}) {
    this.threshold = options.threshold ?? 5;
    this.baseCooldownMs = options.cooldownMs ?? 5_000;
    this.maxCooldownMs = options.maxCooldownMs ?? 60_000;
    this.cooldownMs = this.baseCooldownMs;
    this.now = options.now ?? Date.now;
  }

  get state(): "closed" | "open" | "half-open" {
    if (this.failures < this.threshold) return "closed";
    return this.now() < this.openUntil ? "open" : "half-open";
  }

  /** Milliseconds until a call may go through; 0 means go (and, when half-open, you are the trial). */
  blockedForMs(): number {
    const state = this.state;
    if (state === "closed") return 0;
    if (state === "open") return this.openUntil - this.now();
    if (this.trialInFlight) return this.cooldownMs;
    this.trialInFlight = true;
    return 0;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.trialInFlight = false;
    this.cooldownMs = this.baseCooldownMs;
  }

  recordOutageFailure(): void {
    const wasTrial = this.trialInFlight;
    this.trialInFlight = false;
    this.failures += 1;
    if (this.failures < this.threshold) return;
    if (wasTrial) this.cooldownMs = Math.min(this.maxCooldownMs, this.cooldownMs * 2);
    this.openUntil = this.now() + this.cooldownMs;
  }

  /** A call that neither proves nor disproves an outage (429, 4xx) still ends a trial. */
  recordNeutral(): void {
    if (this.trialInFlight) this.recordSuccess();
  }
}
