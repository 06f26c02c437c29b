import type { AuditLog } from '../access/audit-log.ts';
import type { CallEvent } from '../gateway/upstream-router.ts';
import { scheduleUnref, type Schedule } from '../gateway/unref-timer.ts';
import type { RateRefusal } from '../http/access-guards.ts';
import type { HostObservability } from '../metrics/host-observability.ts';

/**
 * Every answered call: one audit row, and one observation when metrics are on (`observability` null:
 * off). Calls a full queue refused (`refused`) are each observed but audited as the 429s are, one row
 * per teammate and server per window plus one with the count of the rest: a batch of 100 calls a POST,
 * refused at once, would otherwise write thousands of rows a second and push the log out (audit.maxRows).
 */
export function recordCalls(
  audit: AuditLog,
  observability: Pick<HostObservability, 'observe'> | null,
  options: RefusalWindowOptions = {},
): (server: string, event: CallEvent) => void {
  const window = refusalWindow(options);
  return (server, event) => {
    const failed = event.error !== undefined || event.toolError;
    observability?.observe({ server, method: event.method, tool: event.tool, durationMs: event.durationMs, error: failed ? 'jsonrpc' : null });
    const row = {
      teammate: event.session.teammate,
      ...(event.session.via ? { via: event.session.via } : {}),
      server,
      method: event.method,
      ...(event.tool ? { tool: event.tool } : {}),
      durationMs: Math.round(event.durationMs),
      ok: !failed,
      ...(event.error ? { error: event.error } : event.toolError ? { error: event.toolErrorText ?? 'the tool reported an error with no text' } : {}),
    };
    if (!event.refused) return audit.record(row);
    const { tool: _first, ...rest } = row;
    window(
      `${row.teammate}\n${server}\n${event.refused}`,
      () => audit.record(row),
      (count, seconds) => audit.record({ ...rest, durationMs: 0, error: `${count} more call${count === 1 ? '' : 's'} refused in the next ${seconds}s: ${row.error}` }),
    );
  };
}

/** How long one audit row stands for a teammate's 429s on one server (the first is written at once). */
const REFUSAL_WINDOW_MS = 10_000;

/**
 * Requests the teammate rate refused (HTTP 429): each one counted in the metrics (an error of kind
 * `rate_limited`, as the 5xx are), but audited one row per teammate and server per window, plus one
 * row for the rest of the window with their count. A runaway loop is refused hundreds of times a
 * second, by design past any rate: a row each would push the real calls out of the bounded log
 * (audit.maxRows).
 */
export function recordRateRefusals(
  audit: AuditLog,
  observability: Pick<HostObservability, 'observe'> | null,
  options: RefusalWindowOptions = {},
): (refusal: RateRefusal) => void {
  const window = refusalWindow(options);
  const row = (refusal: RateRefusal, error: string) =>
    audit.record({ teammate: refusal.teammate, via: refusal.via, server: refusal.server, method: 'http', durationMs: 0, ok: false, error });
  return (refusal) => {
    observability?.observe({ server: refusal.server, method: 'http', tool: undefined, durationMs: 0, error: 'rate_limited' });
    window(
      `${refusal.teammate}\n${refusal.server}`,
      () => row(refusal, refusal.error),
      (count, seconds) => row(refusal, `${count} more request${count === 1 ? '' : 's'} refused in the next ${seconds}s: ${refusal.error}`),
    );
  };
}

interface RefusalWindowOptions {
  windowMs?: number;
  schedule?: Schedule;
}

/**
 * Per key: `first` at once, then the refusals of the next window only counted, and `rest` with their
 * count when it closes (nothing when there were none). The count of a window still open when the host
 * stops is lost (the metrics have it).
 */
function refusalWindow(options: RefusalWindowOptions): (key: string, first: () => void, rest: (count: number, seconds: number) => void) => void {
  const windowMs = options.windowMs ?? REFUSAL_WINDOW_MS;
  const schedule = options.schedule ?? scheduleUnref;
  const open = new Map<string, number>();
  return (key, first, rest) => {
    const more = open.get(key);
    if (more !== undefined) return void open.set(key, more + 1);
    first();
    open.set(key, 0);
    schedule(() => {
      const count = open.get(key) ?? 0;
      open.delete(key);
      if (count > 0) rest(count, windowMs / 1000);
    }, windowMs);
  };
}
