/** Per-token rate limit (DESIGN.md section 4): a token bucket per key, answered with 429 + Retry-After. */

export interface TokenBucketOptions {
  /** Sustained rate, tokens added per second. */
  ratePerSecond?: number;
  /** Bucket size: how many requests may arrive at once after a quiet spell. */
  burst?: number;
  /** Milliseconds on a monotonic clock; injectable for tests. */
  now?: () => number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number; retryAfterMs: number };

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  /** How long an empty bucket takes to fill: the cadence of forgetting full ones. */
  readonly #refillMs: number;
  #lastSweep: number;

  constructor(options: TokenBucketOptions = {}) {
    this.ratePerSecond = options.ratePerSecond ?? 10;
    this.burst = options.burst ?? 30;
    if (!(this.ratePerSecond > 0) || !(this.burst >= 1)) throw new RangeError('need ratePerSecond > 0 and burst >= 1');
    this.#now = options.now ?? (() => performance.now());
    this.#refillMs = (this.burst / this.ratePerSecond) * 1000;
    this.#lastSweep = this.#now();
  }

  /** Spends one token of `key`'s bucket, or says how long until one is there. */
  take(key: string, now: number = this.#now()): TakeResult {
    this.#sweep(now);
    const bucket = this.#buckets.get(key);
    const tokens = bucket ? this.#level(bucket, now) : this.burst;
    if (tokens >= 1) {
      this.#buckets.set(key, { tokens: tokens - 1, at: now });
      return { ok: true };
    }
    this.#buckets.set(key, { tokens, at: now });
    const retryAfterMs = ((1 - tokens) / this.ratePerSecond) * 1000;
    // Retry-After carries whole seconds; rounding down would invite a retry that fails again.
    return { ok: false, retryAfterMs, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
  }

  /** Drops a key's state, e.g. when its token is revoked. */
  forget(key: string): void {
    this.#buckets.delete(key);
  }

  /** Keys currently remembered (a full bucket is indistinguishable from a forgotten one). */
  get size(): number {
    return this.#buckets.size;
  }

  #level(bucket: Bucket, now: number): number {
    // A clock that steps back (injected clocks, tests) must not drain the bucket.
    const elapsedMs = Math.max(0, now - bucket.at);
    return Math.min(this.burst, bucket.tokens + (elapsedMs / 1000) * this.ratePerSecond);
  }

  /**
   * Memory stays bounded by the keys active in the last couple of refill periods: a bucket that has
   * refilled is forgotten, since a fresh one starts full anyway. Amortised: one pass per refill period.
   */
  #sweep(now: number): void {
    if (now - this.#lastSweep < this.#refillMs) return;
    this.#lastSweep = now;
    for (const [key, bucket] of this.#buckets) {
      if (this.#level(bucket, now) >= this.burst) this.#buckets.delete(key);
    }
  }
}
