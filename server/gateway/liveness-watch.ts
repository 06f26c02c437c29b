import type { Logger } from '../logger.ts';
import { startLivenessProbe, type LivenessHooks, type LivenessOptions, type LivenessProbe } from './liveness-probe.ts';

export interface WatchedUpstream {
  serverName: string;
  log: Logger;
  /** The calls in flight: their count, and when the oldest was sent (clock of performance.now()). */
  calls: { readonly size: number; oldestStartedAt(): number | null };
  /** An MCP ping through the router's own requests: its answer is recognised like initialize's. */
  ping: () => Promise<unknown>;
  /** Frozen past the bound: restart it (calls in flight then fail at once). */
  onStuck?: ((reason: string) => void) | undefined;
  /** Clock and timer of the probe (the clock of `calls`); tests drive them. */
  clock?: Pick<LivenessHooks, 'now' | 'every'>;
}

/** The liveness probe (liveness-probe.ts) on one router's calls: it pings while calls are overdue, and says so in the log. */
export function watchLiveness(options: Partial<LivenessOptions>, watched: WatchedUpstream): LivenessProbe {
  const { serverName: server, log, calls } = watched;
  const seconds = (ms: number) => Math.round(ms / 1000);
  return startLivenessProbe(options, {
    oldestInFlightAt: () => calls.oldestStartedAt(),
    ping: watched.ping,
    onUnresponsive: (ms) => log.warn({ server, inFlight: calls.size }, `server is not answering (no reply to ping for ${seconds(ms)} s)`),
    onResponsive: (ms) => log.info({ server }, `server is answering again after ${seconds(ms)} s`),
    onStuck: (ms) => watched.onStuck?.(`not answering: no reply to ping for ${seconds(ms)} s`),
    ...watched.clock,
  });
}
