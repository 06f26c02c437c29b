import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from '../node-http.ts';
import type { AddressInfo } from 'node:net';
import type { TokenStore } from '../auth/token-store.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { Logger } from '../logger.ts';
import type { ModernExchangeOptions } from '../modern/modern-exchange.ts';
import { isAppPath, serveAppAsset } from './app-assets.ts';
import { isOAuthPath, sendNoOAuth } from './auth-answers.ts';
import { authenticate, oauthEndpoints, type OAuthGate } from './auth-guards.ts';
import { allowedHostAndOrigin, loopbackOnly, readPlace, type RequestPlace } from './place-guards.ts';
import { admitted, hostedServer, inScope, withinRate, type TeammateLimits } from './access-guards.ts';
import { sendError } from './http-errors.ts';
import { healthAnswer, metricsAnswer, type HealthSource } from './probe-routes.ts';
import { BodyTooLargeError, sendBodyTooLarge } from './read-body.ts';
import { RequestGuard } from './request-guard.ts';
import { exactPath, guarded, pathUnder, route, routeTable, type Handler } from './route-table.ts';
import { serverEndpointPath, serverEndpoints } from './server-endpoints.ts';
import { SessionRegistry } from './session-registry.ts';
import { DEFAULT_MAX_STREAM_BUFFER_BYTES, Heartbeat } from './sse-stream.ts';
import type { EndpointContext } from './streamable-endpoint.ts';
import type { ResponseMode, SessionLimits } from './streamable-session.ts';

export type { OAuthGate } from './auth-guards.ts';

export interface HostServerOptions {
  servers: Map<string, HostedServer>;
  tokens: TokenStore;
  log: Logger;
  bindHost: string;
  maxBodyBytes: number;
  sessionTtlMs: number;
  heartbeatMs?: number;
  responseMode: ResponseMode;
  allowedOrigins?: string[];
  limits?: Partial<SessionLimits>;
  /** Extra content for GET /health: `state` for everyone, `reasons` and the rest for loopback callers only. */
  health?: HealthSource;
  /** Prometheus exposition for GET /metrics (loopback callers only). */
  metrics?: { text: () => Promise<string>; contentType: string };
  /** Per-teammate limits. */
  access?: TeammateLimits;
  /** A 5xx answer, for the error-rate metric. */
  onServerError?: () => void;
  /** The 2026-07-28 era beside 2025 on every endpoint (server/modern); absent: 2025 only. */
  modern?: ModernExchangeOptions;
  /** The admin API (loopback, own secret); absent: no /admin routes. */
  admin?: AdminRoute;
  /** Sign in with Harbor (server/oauth/); absent: static tokens only and nothing of OAuth advertised. */
  oauth?: OAuthGate;
}

/**
 * Answers `/admin` and `/admin/*`. Handed in by the host, so server/admin (which builds on http/) is not
 * imported back from here.
 */
export type AdminRoute = (req: IncomingMessage, res: ServerResponse, path: string, url: URL, registry: SessionRegistry) => Promise<void>;

export interface HostServer {
  readonly server: Server;
  readonly registry: SessionRegistry;
  readonly guard: RequestGuard;
  readonly heartbeat: Heartbeat;
  setResponseMode(mode: ResponseMode): void;
  listen(port: number): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

export function createHostServer(options: HostServerOptions): HostServer {
  const heartbeat = new Heartbeat(options.heartbeatMs);
  const registry = new SessionRegistry({ ttlMs: options.sessionTtlMs, log: options.log });
  const guard = new RequestGuard({ bindHost: options.bindHost, allowedOrigins: options.allowedOrigins ?? [] });
  let responseMode = options.responseMode;
  const ctx = endpointContext(options, registry, heartbeat, () => responseMode);
  capSessions(options.access, registry);
  const translator = options.modern?.translator;
  if (translator) registry.onTeammateEnded = (teammate, reason) => translator.abandonTeammate(teammate, `the teammate's access ended (${reason})`);
  const server = httpServer(options, hostRoutes(options, registry, guard, ctx));
  return {
    server,
    registry,
    guard,
    heartbeat,
    setResponseMode(mode) {
      responseMode = mode;
    },
    listen: (port) => listen(server, options.bindHost, port, () => registry.start(), guard),
    async close() {
      await registry.closeAll('host shutting down');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * The host's routes, first match wins. Every request's URL is read and its Host and Origin checked
 * first; a hosted server's endpoints run the teammate's guards (who, which server, scope, rate) before
 * their method's handler, so a caller without a token learns nothing but the 401.
 */
function hostRoutes(options: HostServerOptions, registry: SessionRegistry, guard: RequestGuard, ctx: EndpointContext): Handler<unknown> {
  const { servers, tokens, admin, metrics, oauth } = options;
  const notFound: Handler<RequestPlace> = (_req, res) => sendError(res, 404, 'Not found');
  const routes = routeTable<RequestPlace>([
    // The dashboard's files, for this machine only (its API calls carry the admin secret); from elsewhere `/app/mcp` is a server's.
    route((place) => (place.local && isAppPath(place.path) ? place : null), async (req, res, place) => void (await serveAppAsset(req, res, place.path))),
    route(exactPath('/health'), healthAnswer(options)),
    route(exactPath('/metrics'), metrics ? guarded([loopbackOnly('/metrics answers loopback scrapers only')], metricsAnswer(metrics)) : notFound),
    route(pathUnder('/admin'), admin ? (req, res, place) => admin(req, res, place.path, place.url, registry) : notFound),
    // Without sign-in (or a document sign-in does not serve, e.g. openid-configuration): a clean 404.
    route((place) => (isOAuthPath(place.path) ? place : null), (_req, res) => sendNoOAuth(res, oauth !== undefined)),
    route(
      serverEndpointPath(servers),
      guarded([authenticate(tokens, oauth), hostedServer(servers), inScope, withinRate(options.access), admitted(tokens)], serverEndpoints(ctx)),
    ),
  ], (_req, res, place) => sendError(res, 404, `Not found: ${place.path.slice(0, 100)}`));
  return guarded([readPlace, allowedHostAndOrigin(guard), oauthEndpoints(oauth)], routes);
}

function endpointContext(options: HostServerOptions, registry: SessionRegistry, heartbeat: Heartbeat, responseMode: () => ResponseMode): EndpointContext {
  const { access } = options;
  return {
    registry,
    heartbeat,
    maxBodyBytes: options.maxBodyBytes,
    limits: sessionLimits(options.limits),
    modern: options.modern,
    responseMode,
    log: options.log,
    // The session cap is per session, not per request: checked where a session is made, not by a guard.
    admitSession: (teammate, sessionId) => {
      if (!access) return null;
      const admitted = access.sessions.acquire(teammate, sessionId);
      return admitted.ok ? null : `Too many sessions: ${teammate} has ${admitted.limit} open and every one is busy (a request in flight or a stream open); this is the per-teammate session limit (limits.sessionsPerTeammate)`;
    },
  };
}

/** The per-teammate session cap follows the registry: a closed session frees its place. */
function capSessions(access: TeammateLimits | undefined, registry: SessionRegistry): void {
  registry.onClosed = (session) => {
    access?.sessions.release(session.id);
  };
  if (!access) return;
  // At the cap, the teammate's least recently used idle session makes room (session-cap.ts).
  access.sessions.activity = (id) => {
    const session = registry.get(id);
    return session && { lastActivity: session.lastActivity, busy: session.openStreams > 0 || (session.inFlight ?? 0) > 0 };
  };
  access.sessions.onEvict = (id) => void registry.end(id, 'closed for a newer session of the same teammate (session limit)');
}

function httpServer(options: HostServerOptions, answer: Handler<unknown>): Server {
  const server = createServer((req, res) => {
    const failed = (error: Error) => {
      options.onServerError?.();
      options.log.error({ err: error.message, stack: error.stack, path: req.url?.split('?')[0]?.replace(/\/t\/[^/]+/, '/t/[redacted]') }, 'request failed');
      sendError(res, 500, 'Internal error');
    };
    // Routes answer synchronously when they can (route-table.ts): a throw is caught here, a rejection below.
    try {
      answer(req, res, undefined)?.catch(failed);
    } catch (error) {
      failed(error as Error);
    }
  });
  // A client that sends `Expect: 100-continue` (curl does for big bodies) learns of an oversized body
  // before sending it: the 413 comes instead of the 100, so no reset can swallow it.
  server.on('checkContinue', (req, res) => {
    if (Number(req.headers['content-length']) > options.maxBodyBytes) {
      sendBodyTooLarge(res, new BodyTooLargeError(options.maxBodyBytes, false));
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  // Above common load-balancer idle timeouts (60 s), so the proxy closes first and never reuses a dead socket.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Streams live as long as the session: no whole-request timeout.
  server.requestTimeout = 0;
  return server;
}

async function listen(server: Server, bindHost: string, port: number, started: () => void, guard: RequestGuard): Promise<{ port: number; url: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  guard.setPort(actual);
  started();
  const host = bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  return { port: actual, url: `http://${host}:${actual}` };
}

function sessionLimits(overrides: Partial<SessionLimits> = {}): SessionLimits {
  const limits = { maxStoredEvents: 256, maxStoredBytes: 1024 * 1024, sseAfterMs: 1000, maxStreamBufferBytes: DEFAULT_MAX_STREAM_BUFFER_BYTES, ...overrides };
  // A resumption replays up to the whole event store in one go: a stream bound below that would drop
  // every resumed stream at once, so the bound is kept at twice the store's.
  limits.maxStreamBufferBytes = Math.max(limits.maxStreamBufferBytes, 2 * limits.maxStoredBytes);
  return limits;
}
