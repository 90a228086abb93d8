/**
 * PassEntry's documented rate limit: N requests per second per endpoint and HTTP method, on a
 * sliding window. Only accepted requests count, so a client hammering with 429s still gets through
 * once the oldest accepted request leaves the window.
 */

const WINDOW_MS = 1000;

export interface RateDecision {
  allowed: boolean;
  /** x-rate-limit-* headers for this answer (with x-rate-limit-retry-after when refused). */
  headers: Record<string, string>;
}

export class SlidingWindowRateLimiter {
  /** Accepted request times per bucket ("METHOD /template"), oldest first. */
  private readonly windows = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Counts the request if it fits in the window, otherwise refuses it without counting it. */
  take(bucket: string, limitedUrl: string): RateDecision {
    const now = this.clock();
    const window = this.currentWindow(bucket, now);
    if (window.length >= this.limit) {
      return { allowed: false, headers: this.refusedHeaders(window, limitedUrl, now) };
    }
    window.push(now);
    return { allowed: true, headers: this.headersFor(window, limitedUrl, now) };
  }

  /** Headers describing the window without counting a request (for answers that bypass the limiter). */
  peek(bucket: string, limitedUrl: string): Record<string, string> {
    const now = this.clock();
    return this.headersFor(this.currentWindow(bucket, now), limitedUrl, now);
  }

  reset(): void {
    this.windows.clear();
  }

  private currentWindow(bucket: string, now: number): number[] {
    let window = this.windows.get(bucket);
    if (!window) {
      window = [];
      this.windows.set(bucket, window);
    }
    while (window.length > 0 && (window[0] as number) <= now - WINDOW_MS) window.shift();
    return window;
  }

  private headersFor(window: number[], limitedUrl: string, now: number): Record<string, string> {
    const oldest = window[0] ?? now;
    return {
      "x-rate-limit-limit": String(this.limit),
      "x-rate-limit-remaining": String(Math.max(0, this.limit - window.length)),
      // When the oldest counted request leaves the window, as a Unix timestamp in whole seconds.
      "x-rate-limit-reset": String(Math.ceil((oldest + WINDOW_MS) / 1000)),
      "x-rate-limit-url": limitedUrl,
    };
  }

  private refusedHeaders(window: number[], limitedUrl: string, now: number): Record<string, string> {
    const oldest = window[0] ?? now;
    // Seconds with decimals, as PassEntry sends (e.g. "0.350"); never "0.000" so clients always wait.
    const retryAfterSeconds = Math.max(0.001, (oldest + WINDOW_MS - now) / 1000);
    return {
      ...this.headersFor(window, limitedUrl, now),
      "x-rate-limit-retry-after": retryAfterSeconds.toFixed(3),
    };
  }
}
