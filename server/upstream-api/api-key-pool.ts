import { parseResetDuration } from './retry-timing.ts';

export interface ApiKeyLease {
  /** The secret itself: goes into the Authorization header and nowhere else. */
  key: string;
  /** Safe to log and show: "key#1", "key#2", … */
  id: string;
}

export interface ApiKeyStatus {
  id: string;
  /** Epoch ms until which the key is not used, or 0. */
  restingUntil: number;
  /** Last `x-ratelimit-remaining-requests` seen, if any. */
  remaining: number | undefined;
  /** Last `x-ratelimit-limit-requests` seen, if any. */
  limit: number | undefined;
}

interface KeyState extends ApiKeyStatus {
  key: string;
  /** Epoch ms at which `remaining` refills, from `x-ratelimit-reset-requests`. */
  resetAt: number | undefined;
}

/**
 * API keys used round-robin. A key that got 429 rests until its reset while the others carry on, and a
 * key whose headers say it has no requests left rests until its reset too, instead of earning a 429.
 */
export class ApiKeyPool {
  readonly #keys: KeyState[];
  readonly #clock: () => number;
  #next = 0;

  constructor(keys: readonly string[], clock: () => number = Date.now) {
    // No keys = a local endpoint without auth: one anonymous "key" that sends no header.
    const list = keys.length > 0 ? keys : [''];
    this.#keys = list.map((key, i) => ({
      key,
      id: `key#${i + 1}`,
      restingUntil: 0,
      remaining: undefined,
      limit: undefined,
      resetAt: undefined,
    }));
    this.#clock = clock;
  }

  /** The next usable key in turn, or how long until one is usable. */
  acquire(): ApiKeyLease | { waitMs: number } {
    const now = this.#clock();
    for (let i = 0; i < this.#keys.length; i++) {
      const state = this.#keys[(this.#next + i) % this.#keys.length]!;
      if (this.#availableAt(state, now) <= now) {
        this.#next = (this.#next + i + 1) % this.#keys.length;
        return { key: state.key, id: state.id };
      }
    }
    return { waitMs: this.waitMs() };
  }

  /** Ms until some key can be used (0 if one can now). */
  waitMs(): number {
    const now = this.#clock();
    let soonest = Number.POSITIVE_INFINITY;
    for (const state of this.#keys) soonest = Math.min(soonest, this.#availableAt(state, now));
    return Math.max(0, soonest - now);
  }

  /** Records the rate-limit headers of an answer given to `key`. */
  observe(key: string, headers: Headers): void {
    const state = this.#find(key);
    if (!state) return;
    const remaining = toCount(headers.get('x-ratelimit-remaining-requests'));
    const limit = toCount(headers.get('x-ratelimit-limit-requests'));
    const reset = parseResetDuration(headers.get('x-ratelimit-reset-requests'));
    if (remaining !== undefined) state.remaining = remaining;
    if (limit !== undefined) state.limit = limit;
    if (reset !== undefined) state.resetAt = this.#clock() + reset;
  }

  /** Takes `key` out of rotation until `until` (epoch ms). */
  rest(key: string, until: number): void {
    const state = this.#find(key);
    if (state) state.restingUntil = Math.max(state.restingUntil, until);
  }

  /**
   * Share of the request budget left across keys (0..1), from the last headers seen; a resting key
   * counts as empty, a key past its reset as full. Null before any key reported a limit.
   */
  remainingFraction(): number | null {
    const now = this.#clock();
    let remaining = 0;
    let limit = 0;
    for (const state of this.#keys) {
      if (state.limit === undefined || state.limit <= 0) continue;
      limit += state.limit;
      if (state.restingUntil > now) continue;
      const refilled = state.resetAt !== undefined && now >= state.resetAt;
      remaining += refilled ? state.limit : Math.min(state.limit, state.remaining ?? state.limit);
    }
    return limit === 0 ? null : remaining / limit;
  }

  status(): ApiKeyStatus[] {
    return this.#keys.map(({ id, restingUntil, remaining, limit }) => ({ id, restingUntil, remaining, limit }));
  }

  /** Id of a key, for log lines. */
  idOf(key: string): string {
    return this.#find(key)?.id ?? 'key#?';
  }

  #availableAt(state: KeyState, now: number): number {
    let at = state.restingUntil;
    if (state.remaining === 0 && state.resetAt !== undefined && state.resetAt > now) at = Math.max(at, state.resetAt);
    return at;
  }

  #find(key: string): KeyState | undefined {
    return this.#keys.find((state) => state.key === key);
  }
}

function toCount(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}
