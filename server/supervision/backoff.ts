/**
 * The one exponential backoff of the code base: supervisor restarts, log-file reopening, the cache's disk
 * layer rebuild and the embeddings client's retries all take their delays from `backoffDelay`, each with
 * its own options. (It lives beside the supervisor, its first and strictest user; nothing in it is
 * about processes.)
 */
export interface BackoffOptions {
  /** The delay of attempt 0. */
  initialMs: number;
  /** Growth per attempt. */
  factor: number;
  /** Cap, also for huge attempt numbers. */
  maxMs: number;
  /**
   * `none` (default): the exact delay, so a restart sequence is predictable and testable. `full`: uniform
   * in [0, delay) ("full jitter"), so many callers retrying one server spread out instead of arriving
   * in synchronized waves.
   */
  jitter?: 'none' | 'full';
}

/**
 * Delay before attempt number `attempt` (0 = the first retry): `initialMs × factor^attempt`, capped at
 * `maxMs`, jittered if asked. Pure, so the growth and the cap can be checked without real timers.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  const raw = options.initialMs * options.factor ** n;
  // factor ** n overflows to Infinity for large n; the cap keeps the answer finite.
  const ceiling = Math.min(options.maxMs, Number.isFinite(raw) ? raw : options.maxMs);
  return options.jitter === 'full' ? Math.floor(random() * ceiling) : Math.round(ceiling);
}

/**
 * Trying a log file again after a failed write (ENOSPC, EIO, a folder that could not be made): 100 ms,
 * doubling while it keeps failing, at most 5 s. Both of Harbor's log writers use it: the rotating log of
 * each supervised process (supervision/rotating-log.ts) and pino's destination (logger.ts).
 */
export const logRetryDelay: BackoffOptions = { initialMs: 100, factor: 2, maxMs: 5_000 };

/** Restart delay policy: a backoff that is forgotten after `resetAfterMs` online. */
export interface RestartDelayOptions extends BackoffOptions {
  /** A child that stayed online this long is considered healthy again: the next crash starts from `initialMs`. */
  resetAfterMs: number;
}

/** PM2's exponential backoff defaults (DESIGN.md §5). */
export const defaultRestartDelay: RestartDelayOptions = {
  initialMs: 100,
  factor: 1.5,
  maxMs: 15_000,
  resetAfterMs: 30_000,
};

/** Delay before restart number `attempt` (0 for the first restart after a healthy run). */
export function restartDelay(attempt: number, options: RestartDelayOptions = defaultRestartDelay): number {
  return backoffDelay(attempt, options);
}

/** The attempt counter to use after an exit: a run that lasted `resetAfterMs` online wipes the slate. */
export function nextAttempt(previousAttempt: number, onlineMs: number, options: RestartDelayOptions = defaultRestartDelay): number {
  return onlineMs >= options.resetAfterMs ? 0 : previousAttempt + 1;
}
