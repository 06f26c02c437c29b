import { SlotRing, fiveMinuteRing, type SlotRingOptions } from './slot-ring.ts';

/**
 * A ratio (errors / requests, misses / lookups) per key over the same rolling slot ring as the
 * latencies, so "error rate over 5 min" forgets a bad minute once it leaves the window.
 */
const REQUESTS = 0;
const ERRORS = 1;

export interface RateCounts {
  requests: number;
  errors: number;
  /** errors / requests, or null when the window holds no request. */
  ratio: number | null;
}

export interface RollingRateOptions extends SlotRingOptions {
  /** Distinct keys tracked before new ones fold into '(other)'. */
  maxKeys: number;
}

export class RollingRate {
  readonly #options: RollingRateOptions;
  readonly #rings = new Map<string, SlotRing>();
  readonly #scratch = new Float64Array(2);

  constructor(options: Partial<RollingRateOptions> = {}) {
    this.#options = { ...fiveMinuteRing, maxKeys: 1000, ...options };
  }

  record(key: string, isError: boolean, now: number = Date.now()): void {
    this.add(key, 1, isError ? 1 : 0, now);
  }

  /** Adds many at once, e.g. the change in a cache's hit/miss counters since the last poll. */
  add(key: string, requests: number, errors: number, now: number = Date.now()): void {
    if (!(requests > 0) && !(errors > 0)) return;
    const ring = this.#ring(key, now);
    ring.add(REQUESTS, now, requests);
    if (errors > 0) ring.add(ERRORS, now, errors);
  }

  counts(key: string, now: number = Date.now()): RateCounts {
    const ring = this.#rings.get(key);
    if (ring === undefined) return { requests: 0, errors: 0, ratio: null };
    ring.sumInto(this.#scratch, now);
    return countsOf(this.#scratch);
  }

  /** errors / requests in the window, or null when there was no request. */
  rate(key: string, now: number = Date.now()): number | null {
    return this.counts(key, now).ratio;
  }

  /** Counts of every key with data in the window; idle keys are dropped. */
  snapshot(now: number = Date.now()): Record<string, RateCounts> {
    this.#forget(now);
    const result: Record<string, RateCounts> = {};
    for (const [key, ring] of this.#rings) {
      ring.sumInto(this.#scratch, now);
      result[key] = countsOf(this.#scratch);
    }
    return result;
  }

  #ring(key: string, now: number): SlotRing {
    let ring = this.#rings.get(key);
    if (ring !== undefined) return ring;
    if (this.#rings.size >= this.#options.maxKeys) this.#forget(now);
    if (this.#rings.size >= this.#options.maxKeys) key = '(other)';
    ring = this.#rings.get(key);
    if (ring === undefined) {
      ring = new SlotRing(2, this.#options);
      this.#rings.set(key, ring);
    }
    return ring;
  }

  #forget(now: number): void {
    for (const [key, ring] of this.#rings) if (ring.isIdle(now)) this.#rings.delete(key);
  }
}

function countsOf(sums: Float64Array): RateCounts {
  const requests = sums[REQUESTS]!;
  const errors = sums[ERRORS]!;
  return { requests, errors, ratio: requests > 0 ? errors / requests : null };
}
