/** Restart delay policy: exponential from `initialMs` by `factor`, capped at `maxMs`, forgotten after `resetAfterMs` online. */
export interface RestartDelayOptions {
  initialMs: number;
  factor: number;
  maxMs: number;
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

/**
 * Delay before restart number `attempt` (0 for the first restart after a healthy run).
 * Pure, so the growth and the cap can be checked without waiting for real timers.
 */
export function restartDelay(attempt: number, options: RestartDelayOptions = defaultRestartDelay): number {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  const raw = options.initialMs * options.factor ** n;
  // factor ** n overflows to Infinity for large n; the cap keeps the answer finite.
  return Math.round(Math.min(options.maxMs, Number.isFinite(raw) ? raw : options.maxMs));
}

/** The attempt counter to use after an exit: a run that lasted `resetAfterMs` online wipes the slate. */
export function nextAttempt(previousAttempt: number, onlineMs: number, options: RestartDelayOptions = defaultRestartDelay): number {
  return onlineMs >= options.resetAfterMs ? 0 : previousAttempt + 1;
}
