import type { Logger } from '../logger.ts';
import type { ClientPeer } from './client-peer.ts';
import type { IdSpace } from './id-space.ts';
import type { JsonRpcId, JsonRpcNotification } from './jsonrpc.ts';
import type { ServerRequests } from './server-requests.ts';
import type { Subscriptions } from './subscriptions.ts';

export interface NotificationRoutes<P extends ClientPeer> {
  serverName: string;
  log: Logger;
  /** Sessions attached to the upstream, in the order they attached. */
  sessions: ReadonlySet<P>;
  calls: IdSpace<P>;
  subscriptions: Subscriptions<P>;
  serverRequests: ServerRequests<P>;
}

/**
 * Who receives a notification from a shared upstream (DESIGN.md section 3): progress goes to the call
 * whose rewritten token it carries, `resources/updated` to the sessions subscribed to that URI,
 * `list_changed` to every session; the rest (logging, anything new) carries no link to a request and
 * goes only to a provable origin, or nowhere.
 */
export function routeUpstreamNotification<P extends ClientPeer>(message: JsonRpcNotification, routes: NotificationRoutes<P>): void {
  const method = message.method;
  if (method === 'notifications/progress') {
    const target = routes.calls.progressTarget(message.params?.progressToken);
    if (target) target.session.deliver({ ...message, params: { ...message.params, progressToken: target.progressToken } }, target.originalId);
    return;
  }
  if (method === 'notifications/cancelled') {
    routes.serverRequests.withdrawn(message); // the upstream withdrew one of its own server→client requests
    return;
  }
  if (method === 'notifications/resources/updated') {
    const uri = message.params?.uri;
    if (typeof uri !== 'string') return;
    for (const session of routes.subscriptions.holders(uri)) session.deliver(message);
    return;
  }
  if (method.endsWith('/list_changed')) {
    for (const session of routes.sessions) session.deliver(message);
    return;
  }
  const origin = provenOrigin(routes.calls, routes.sessions);
  if (origin) origin.session.deliver(message, origin.relatedId);
  else routes.log.debug({ server: routes.serverName, method }, 'dropped a notification whose origin is ambiguous');
}

/** The session that must have caused an unattributed upstream message: the only one with calls in flight, or the only one attached. */
export function provenOrigin<P>(calls: IdSpace<P>, sessions: ReadonlySet<P>): { session: P; relatedId: JsonRpcId | undefined } | null {
  const caller = calls.soleCaller();
  if (caller !== undefined) return caller;
  if (sessions.size === 1) return { session: sessions.values().next().value!, relatedId: undefined };
  return null;
}
