import type { AuditLog } from '../access/audit-log.ts';
import type { CallEvent } from '../gateway/upstream-router.ts';
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
