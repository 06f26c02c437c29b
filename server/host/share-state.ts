import type { ShareState } from '../admin/host-api.ts';
import type { AdminEvents } from './admin-events.ts';
import type { HostAddress } from './host-address.ts';
import type { HostHttp } from './http-part.ts';

/**
 * The tunnel's state as the host applies it: the public host name allowed in Host checks (the old one
 * no longer), JSON answers while a quick tunnel carries the traffic, the owner told.
 */
export function shareStateApplier(parts: { address: HostAddress; http: HostHttp; events: AdminEvents }): (next: ShareState) => void {
  const { address, http } = parts;
  return (next) => {
    const previousHost = address.share.publicUrl ? new URL(address.share.publicUrl).hostname : null;
    if (previousHost) http.server.guard.disallowHost(previousHost);
    address.share = next;
    if (next.publicUrl) http.server.guard.allowHost(new URL(next.publicUrl).hostname);
    // Quick tunnels buffer SSE at the edge: answer POSTs with JSON while one carries the traffic.
    http.server.setResponseMode(next.mode === 'quick' && next.state !== 'off' ? 'json' : http.responseMode);
    parts.events.publish({ type: 'share', ...next });
  };
}
