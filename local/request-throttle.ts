/**
 * Token buckets for the embedded home's door (local/door.ts): one per verified caller, one per
 * client address for failed authentications. Over the limit a request is answered 429 with
 * `retry-after` before its body is read or any handler runs.
 */
import type { IncomingMessage } from "node:http";

export interface ThrottleOptions {
  /** Sustained requests per second per caller. */
  ratePerSecond: number;
  /** Requests a caller may make at once after being idle. */
  burst: number;
  now?: () => number;
  /** Callers remembered at most; the least recently seen is forgotten first, so random keys cannot grow memory. */
  maxCallers?: number;
}

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RequestThrottle {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly maxCallers: number;

  constructor(private readonly options: ThrottleOptions) {
    this.now = options.now ?? Date.now;
    this.maxCallers = options.maxCallers ?? 10_000;
  }

  /** Takes one token from the caller's bucket, or says how long to wait for one. */
  take(caller: string): ThrottleDecision {
    const bucket = this.refilled(caller);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return this.refusal(bucket);
  }

  /** Whether the caller has a token left, without taking it (an address with failures to spare). */
  peek(caller: string): ThrottleDecision {
    const bucket = this.refilled(caller);
    return bucket.tokens >= 1 ? { allowed: true } : this.refusal(bucket);
  }

  private refilled(caller: string): Bucket {
    const now = this.now();
    const { ratePerSecond, burst } = this.options;
    const bucket = this.buckets.get(caller) ?? { tokens: burst, updatedAt: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.updatedAt) / 1000) * ratePerSecond);
    bucket.updatedAt = now;
    // Re-inserting keeps the map in least-recently-seen order for eviction.
    this.buckets.delete(caller);
    this.buckets.set(caller, bucket);
    if (this.buckets.size > this.maxCallers) this.buckets.delete(this.buckets.keys().next().value!);
    return bucket;
  }

  private refusal(bucket: Bucket): ThrottleDecision {
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.options.ratePerSecond)),
    };
  }
}

/**
 * The client's address, from the connection itself: headers such as X-Forwarded-For are the
 * client's to choose, so they could buy a fresh failure budget per request.
 */
export function clientAddressOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? "unknown";
}
