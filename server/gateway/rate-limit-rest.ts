import { backoffDelay, type BackoffOptions } from '../supervision/backoff.ts';

/**
 * When a rate-limited copy may be called again. A copy rests for the wait its answer named, or, when it
 * named none, for an exponential backoff with full jitter (so copies told off together don't all come
 * back in the same millisecond); a successful answer forgets the streak.
 */
export const DEFAULT_REST_BACKOFF: BackoffOptions = { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 'full' };

export interface CopyRest {
  /** Rests the copy; returns the rest in ms. */
  rest(retryAfterMs: number | undefined): number;
  /** An answer that was not a rate limit. */
  ok(): void;
  /** Ms left of the current rest, 0 when callable. */
  remainingMs(): number;
  /** Rate-limited answers counted since start. */
  readonly limited: number;
}

export function createCopyRest(options: { backoff?: BackoffOptions; now?: () => number; random?: () => number } = {}): CopyRest {
  const now = options.now ?? Date.now;
  const backoff = options.backoff ?? DEFAULT_REST_BACKOFF;
  let until = 0;
  let streak = 0;
  let limited = 0;
  return {
    rest(retryAfterMs) {
      limited++;
      // Full jitter can pick ~0 ms: keep a floor of a tenth of the step so a told-off copy really rests.
      const ms = retryAfterMs ?? Math.max(backoffDelay(streak, backoff, options.random), Math.round(backoffDelay(streak, { ...backoff, jitter: 'none' }) / 10));
      streak++;
      until = Math.max(until, now() + ms);
      return ms;
    },
    ok() {
      streak = 0;
    },
    remainingMs() {
      return Math.max(0, until - now());
    },
    get limited() {
      return limited;
    },
  };
}
