import { SlotRing, fiveMinuteRing, type SlotRingOptions } from './slot-ring.ts';

/**
 * Latency quantiles per key over a rolling window (default 5 min), cheap enough for every request:
 * an observation is one logarithm and one array increment into a preallocated ring of bucket counts.
 *
 * Buckets are log-spaced with ratio 1.2 from 1 ms to 1.2^61 ms (≈ 68 s). A quantile is reported as
 * the geometric middle of the bucket that holds the nearest-rank sample, so the relative error is
 * at most √1.2 − 1 ≈ 9.6 % for values in 1 ms … 68 s. Below 1 ms the answer is 0.5 ms (absolute
 * error < 0.5 ms); above ≈ 68 s the answer is the overflow edge, i.e. "at least 68 s".
 */
const RATIO = 1.2;
const REGULAR_BUCKETS = 61;
/** Bucket 0 holds [0, 1 ms); bucket i in 1…61 holds [1.2^(i−1), 1.2^i) ms; the last one the overflow. */
const BUCKETS = REGULAR_BUCKETS + 2;
const OVERFLOW = BUCKETS - 1;
const LOG_RATIO = Math.log(RATIO);
const EDGES = Array.from({ length: REGULAR_BUCKETS + 1 }, (_, k) => RATIO ** k);
const REPRESENTATIVE = Array.from({ length: BUCKETS }, (_, i) => {
  if (i === 0) return 0.5;
  if (i === OVERFLOW) return EDGES[REGULAR_BUCKETS]!;
  return EDGES[i - 1]! * Math.sqrt(RATIO);
});

/** Largest relative error of a reported quantile for latencies between 1 ms and ≈ 68 s. */
export const LATENCY_RELATIVE_ERROR = Math.sqrt(RATIO) - 1;

/** Key that latencies of more keys than `maxKeys` fold into, so untrusted tool names can't grow memory. */
export const OVERFLOW_KEY = '(other)';

export function latencyBucket(ms: number): number {
  if (!(ms >= 1)) return 0; // also catches NaN and negatives from a clock step
  let index = Math.floor(Math.log(ms) / LOG_RATIO) + 1;
  if (index > OVERFLOW) return OVERFLOW;
  // Math.log rounding can put an exact edge one bucket off; the edges table is the truth.
  if (ms < EDGES[index - 1]!) index--;
  else if (index <= REGULAR_BUCKETS && ms >= EDGES[index]!) index++;
  return index;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  /** Observations inside the window. */
  count: number;
}

export interface RollingLatencyOptions extends SlotRingOptions {
  /** Distinct keys tracked before new ones fold into OVERFLOW_KEY (which comes on top of them). */
  maxKeys: number;
}

export class RollingLatency {
  readonly #options: RollingLatencyOptions;
  readonly #rings = new Map<string, SlotRing>();
  readonly #scratch = new Float64Array(BUCKETS);

  constructor(options: Partial<RollingLatencyOptions> = {}) {
    this.#options = { ...fiveMinuteRing, maxKeys: 1000, ...options };
  }

  observe(key: string, ms: number, now: number = Date.now()): void {
    let ring = this.#rings.get(key);
    if (ring === undefined) {
      if (this.#rings.size >= this.#options.maxKeys) this.#forget(now);
      if (this.#rings.size >= this.#options.maxKeys) key = OVERFLOW_KEY;
      ring = this.#rings.get(key);
      if (ring === undefined) {
        ring = new SlotRing(BUCKETS, this.#options);
        this.#rings.set(key, ring);
      }
    }
    ring.add(latencyBucket(ms), now);
  }

  /** The q-quantile (0 < q ≤ 1) in milliseconds, or null when the window holds no observation. */
  quantile(key: string, q: number, now: number = Date.now()): number | null {
    const ring = this.#rings.get(key);
    if (ring === undefined) return null;
    const count = ring.sumInto(this.#scratch, now);
    return count === 0 ? null : quantileOf(this.#scratch, count, q);
  }

  count(key: string, now: number = Date.now()): number {
    const ring = this.#rings.get(key);
    return ring === undefined ? 0 : ring.sumInto(this.#scratch, now);
  }

  /** p50/p95/p99 in milliseconds of every key with data in the window; idle keys are dropped. */
  snapshot(now: number = Date.now()): Record<string, LatencySummary> {
    this.#forget(now);
    const result: Record<string, LatencySummary> = {};
    for (const [key, ring] of this.#rings) {
      const count = ring.sumInto(this.#scratch, now);
      result[key] = {
        p50: quantileOf(this.#scratch, count, 0.5),
        p95: quantileOf(this.#scratch, count, 0.95),
        p99: quantileOf(this.#scratch, count, 0.99),
        count,
      };
    }
    return result;
  }

  #forget(now: number): void {
    for (const [key, ring] of this.#rings) if (ring.isIdle(now)) this.#rings.delete(key);
  }
}

/** Nearest-rank quantile over bucket counts: the bucket holding the ⌈q·n⌉-th smallest sample. */
function quantileOf(counts: Float64Array, total: number, q: number): number {
  const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * total));
  let seen = 0;
  for (let bucket = 0; bucket < BUCKETS; bucket++) {
    seen += counts[bucket]!;
    if (seen >= rank) return REPRESENTATIVE[bucket]!;
  }
  return REPRESENTATIVE[OVERFLOW]!;
}
