import type { AuditLog } from '../access/audit-log.ts';
import type { CallEvent } from '../gateway/upstream-router.ts';
import { scheduleUnref, type Schedule } from '../gateway/unref-timer.ts';
import type { RateRefusal } from '../http/access-guards.ts';
import type { HostObservability } from '../metrics/host-observability.ts';

/** Every answered call: one audit row, and one observation when metrics are on (`observability` null: off). */
export function recordCalls(audit: AuditLog, observability: Pick<HostObservability, 'observe'> | null): (server: string, event: CallEvent) => void {
  return (server, event) => {
    const failed = event.error !== undefined || event.toolError;
    audit.record({
      teammate: event.session.teammate,
      ...(event.session.via ? { via: event.session.via } : {}),
      server,
      method: event.method,
      ...(event.tool ? { tool: event.tool } : {}),
      durationMs: Math.round(event.durationMs),
      ok: !failed,
      ...(event.error ? { error: event.error } : event.toolError ? { error: event.toolErrorText ?? 'the tool reported an error with no text' } : {}),
    });
    observability?.observe({ server, method: event.method, tool: event.tool, durationMs: event.durationMs, error: failed ? 'jsonrpc' : null });
  };
}

/** How long one audit row stands for a teammate's 429s on one server (the first is written at once). */
const REFUSAL_WINDOW_MS = 10_000;

/**
 * Requests the teammate rate refused (HTTP 429): each one counted in the metrics (an error of kind
 * `rate_limited`, as the 5xx are), but audited one row per teammate and server per window, plus one
 * row for the rest of the window with their count. A runaway loop is refused hundreds of times a
 * second, by design past any rate: a row each would push the real calls out of the bounded log
 * (audit.maxRows). The count of a window still open when the host stops is lost (the metrics have it).
 */
export function recordRateRefusals(
  audit: AuditLog,
  observability: Pick<HostObservability, 'observe'> | null,
  options: { windowMs?: number; schedule?: Schedule } = {},
): (refusal: RateRefusal) => void {
  const windowMs = options.windowMs ?? REFUSAL_WINDOW_MS;
  const schedule = options.schedule ?? scheduleUnref;
  const open = new Map<string, number>();
  const row = (refusal: RateRefusal, error: string) =>
    audit.record({ teammate: refusal.teammate, via: refusal.via, server: refusal.server, method: 'http', durationMs: 0, ok: false, error });
  return (refusal) => {
    observability?.observe({ server: refusal.server, method: 'http', tool: undefined, durationMs: 0, error: 'rate_limited' });
    const key = `${refusal.teammate}\n${refusal.server}`;
    const more = open.get(key);
    if (more !== undefined) return void open.set(key, more + 1);
    row(refusal, refusal.error);
    open.set(key, 0);
    schedule(() => {
      const count = open.get(key) ?? 0;
      open.delete(key);
      if (count > 0) row(refusal, `${count} more request${count === 1 ? '' : 's'} refused in the next ${windowMs / 1000}s: ${refusal.error}`);
    }, windowMs);
  };
}
