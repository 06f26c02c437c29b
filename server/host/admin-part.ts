import { handleAdmin, type AdminDeps } from '../admin/admin-api.ts';
import type { HarborConfig } from '../config/config-schema.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { HarborPaths } from '../harbor-home.ts';
import type { AdminRoute } from '../http/host-server.ts';
import type { SessionRegistry } from '../http/session-registry.ts';
import { Heartbeat } from '../http/sse-stream.ts';
import type { AlertRule } from '../metrics/alert-rules.ts';
import type { HostObservability } from '../metrics/host-observability.ts';
import type { SignInWithHarbor } from '../oauth/sign-in-with-harbor.ts';
import { activityService } from '../services/activity.ts';
import { statusService } from '../services/status.ts';
import { teammatesService } from '../services/teammates.ts';
import type { AdminEvents } from './admin-events.ts';
import type { DocsPart } from './docs-part.ts';
import { teammateBaseUrl, type HostAddress } from './host-address.ts';
import { hostLogTail, serverLogTail } from './log-tail.ts';
import type { HostStores } from './stores.ts';
import type { serverAdmin } from './server-admin.ts';

/**
 * The admin API's answers (loopback, own secret), over server/services/ — the same services the CLI
 * uses when no host answers. The sessions are the HTTP server's, handed to the route with each
 * request (host-server.ts), so this part is built before the HTTP server it plugs into; the deps are
 * assembled per request, a handful of closures at the admin API's rate (the app polls every few s).
 */
export function adminRoute(parts: {
  secret: string;
  config: HarborConfig;
  paths: HarborPaths;
  address: HostAddress;
  stores: HostStores;
  servers: Map<string, HostedServer>;
  docs: DocsPart;
  observability: HostObservability;
  rules: readonly AlertRule[];
  signIn: SignInWithHarbor | null;
  events: AdminEvents;
  manage: ReturnType<typeof serverAdmin>;
  relays: Pick<AdminDeps, 'share' | 'exportBundle'>;
  heartbeatMs?: number | undefined;
}): AdminRoute {
  const { address, stores, servers, signIn } = parts;
  // Its own beat for /admin/events, at the host's interval (a timer only while a stream is open).
  const heartbeat = new Heartbeat(parts.heartbeatMs);
  const activity = activityService(stores.audit);
  const logs = (process: { host: true } | { server: string }, lines: number, copy: number | undefined) =>
    'host' in process ? hostLogTail(parts.paths.hostLog, lines, copy) : serverLogTail(servers.get(process.server), lines, copy);
  const deps = (sessions: SessionRegistry): AdminDeps => {
    const status = statusService({
      url: () => address.url, share: () => address.share, publicUrl: () => address.publicUrl ?? address.share.publicUrl, servers: () => servers.values(), sessions: () => sessions, docs: () => parts.docs.current(),
      caches: () => [stores.toolCache, stores.embeddingsCache], cacheLimits: parts.config.cache, embeddings: () => stores.embeddings,
      observability: () => parts.observability, alertRules: parts.rules,
    });
    return {
      secret: parts.secret,
      ...(signIn ? { signIn: signIn.admin } : {}),
      heartbeat,
      teammates: teammatesService({
        tokens: stores.store.tokens, serverNames: () => servers.keys(), baseUrl: () => teammateBaseUrl(address),
        signIns: signIn?.admin, endSessions: (teammate, reason) => sessions.endTeammate(teammate, reason),
      }),
      status: status.status,
      metrics: status.metrics,
      history: status.history,
      activity: activity.query,
      connections: activity.connections,
      logs,
      ...parts.relays,
      manage: parts.manage(sessions),
      subscribe: parts.events.subscribe,
    };
  };
  return (req, res, path, url, sessions) => handleAdmin(req, res, path, url, deps(sessions));
}
