/**
 * Request rate limits for the embedded home, standing in for API Gateway's throttling on AWS: a
 * token bucket per caller, where the caller is the API key a request presents (as a digest: the
 * key itself is never kept) or, without one, the client's address. Over the limit a request is
 * answered 429 with `retry-after` before its body is read or any handler runs.
 */
import { createHash } from "node:crypto";
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

  /** Takes one token from the request's caller, or says how long to wait for one. */
  admit(req: IncomingMessage): ThrottleDecision {
    return this.take(callerOf(req));
  }

  take(caller: string): ThrottleDecision {
    const now = this.now();
    const { ratePerSecond, burst } = this.options;
    const previous = this.buckets.get(caller);
    const bucket = previous ?? { tokens: burst, updatedAt: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * ratePerSecond);
    bucket.updatedAt = now;
    // Re-inserting keeps the map in least-recently-seen order for eviction.
    this.buckets.delete(caller);
    this.buckets.set(caller, bucket);
    if (this.buckets.size > this.maxCallers) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerSecond)) };
  }
}

/** `key:<digest>` for a request with a bearer key (valid or not: the handler decides), else `ip:<address>`. */
export function callerOf(req: IncomingMessage): string {
  const authorization = req.headers.authorization;
  if (authorization) return `key:${createHash("sha256").update(authorization).digest("base64url").slice(0, 22)}`;
  return `ip:${req.socket.remoteAddress ?? "unknown"}`;
}
