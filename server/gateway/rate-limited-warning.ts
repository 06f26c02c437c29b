import type { Logger } from '../logger.ts';

export interface RateLimitedWarningOptions {
  /** Warnings logged in full per window. */
  burst?: number;
  windowMs?: number;
  now?: () => number;
}

/**
 * A warning a misbehaving peer can trigger at will (a hosted server printing garbage in a loop): the
 * first `burst` of each window are logged in full, the rest only counted, and the count is logged
 * with the first warning of a later window. At most burst + 1 lines per window, whatever the peer does.
 * (pino has no sampling of its own; this is the few lines it would take to configure one.)
 */
export function rateLimitedWarning(log: Logger, options: RateLimitedWarningOptions = {}): (fields: object, message: string) => void {
  const burst = options.burst ?? 5;
  const windowMs = options.windowMs ?? 10_000;
  const now = options.now ?? Date.now;
  let windowStart = Number.NEGATIVE_INFINITY;
  let logged = 0;
  let suppressed = 0;
  return (fields, message) => {
    const at = now();
    if (at - windowStart >= windowMs) {
      if (suppressed > 0) log.warn({ ...fields, suppressed, windowMs }, `${suppressed} more like this were not logged`);
      windowStart = at;
      logged = 0;
      suppressed = 0;
    }
    if (logged < burst) {
      logged++;
      log.warn(fields, message);
    } else suppressed++;
  };
}
