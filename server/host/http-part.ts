import { SessionCap } from '../access/session-cap.ts';
import { TokenBucket } from '../access/token-bucket.ts';
import type { HarborConfig } from '../config/config-schema.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { RateRefusal } from '../http/access-guards.ts';
import { createHostServer, type AdminRoute, type HostServer } from '../http/host-server.ts';
import type { ResponseMode, SessionLimits } from '../http/streamable-session.ts';
import type { Logger } from '../logger.ts';
import type { HostObservability } from '../metrics/host-observability.ts';
import { startModernEra } from '../modern/modern-era.ts';
import type { SignInWithHarbor } from '../oauth/sign-in-with-harbor.ts';
import type { HarborStore } from '../open-store.ts';
import { HARBOR_VERSION } from '../version.ts';

/** The test hooks and overrides of HostOptions the HTTP side reads. */
export interface HttpHooks {
  bindHost?: string | undefined;
  heartbeatMs?: number | undefined;
  sessionTtlMs?: number | undefined;
  limits?: Partial<SessionLimits> | undefined;
  responseMode?: ResponseMode | undefined;
  modernInputTtlMs?: number | undefined;
}

export interface HostHttp {
  server: HostServer;
  /** The response mode config (or the test hook) asks for, before a quick tunnel changes it. */
  responseMode: ResponseMode;
  /** The 2026-07-28 era's expiry sweep, then the server and its sessions (the order the host always had). */
  close(): Promise<void>;
}

/**
 * Both protocol eras on one HTTP server: the hosted servers behind token (or sign-in) auth, the
 * per-teammate limits, /health and /metrics from observability (which samples it back), the admin route.
 * Not listening yet: the root listens once every part exists.
 */
export function hostHttp(parts: {
  config: HarborConfig;
  hooks: HttpHooks;
  servers: Map<string, HostedServer>;
  store: HarborStore;
  log: Logger;
  observability: HostObservability;
  admin: AdminRoute;
  signIn: SignInWithHarbor | null;
  /** Requests the teammate rate refused (call-recorder.ts recordRateRefusals). */
  onRateRefused: (refusal: RateRefusal) => void;
}): HostHttp {
  const { config, hooks, store, log, observability, signIn } = parts;
  const modern = startModernEra({
    ...(hooks.modernInputTtlMs !== undefined ? { inputTtlMs: hooks.modernInputTtlMs } : {}),
    // Replicas (a shared key): each requestState names this replica, and retries are forwarded to theirs.
    ...(store.stateSecret ? { replicas: { secret: store.stateSecret, replica: store.replica, directory: store.replicas, log } } : {}),
  });
  const responseMode = hooks.responseMode ?? config.responseMode;
  const server = createHostServer({
    servers: parts.servers,
    modern: modern.options,
    tokens: store.tokens,
    log,
    bindHost: hooks.bindHost ?? config.host,
    maxBodyBytes: config.maxBodyBytes,
    sessionTtlMs: hooks.sessionTtlMs ?? config.sessionTtlSeconds * 1000,
    responseMode,
    allowedOrigins: config.allowedOrigins,
    ...(hooks.heartbeatMs ? { heartbeatMs: hooks.heartbeatMs } : {}),
    ...(hooks.limits ? { limits: hooks.limits } : {}),
    access: {
      rate: new TokenBucket({ ratePerSecond: config.limits.requestsPerSecond, burst: config.limits.burst }),
      sessions: new SessionCap({ maxPerKey: config.limits.sessionsPerTeammate }),
      describeRate: `${config.limits.requestsPerSecond} requests/s (burst ${config.limits.burst})`,
      onRefused: parts.onRateRefused,
    },
    health: () => ({ ...observability.health(), version: HARBOR_VERSION }),
    metrics: { text: () => observability.metrics.metricsText(), get contentType() { return observability.metrics.contentType; } },
    onServerError: () => observability.observe({ server: '', method: 'http', tool: undefined, durationMs: 0, error: 'http_5xx' }),
    admin: parts.admin,
    ...(signIn ? { oauth: signIn.gate } : {}),
  });
  observability.watchHttp(server);
  return {
    server,
    responseMode,
    async close() {
      modern.stop();
      await server.close();
    },
  };
}
