import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from '../node-http.ts';
import type { AddressInfo } from 'node:net';
import type { SessionCap } from '../access/session-cap.ts';
import type { TokenBucket } from '../access/token-bucket.ts';
import { parseServerPath, serverPath } from '../access/server-url.ts';
import { ErrorCode } from '../gateway/jsonrpc.ts';
import type { Teammate, TokenStore } from '../auth/token-store.ts';
import { bearerToken } from '../auth/bearer.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { Logger } from '../logger.ts';
import type { ModernExchangeOptions } from '../modern/modern-exchange.ts';
import { serveAppAsset } from './app-assets.ts';
import { isOAuthPath, sendNoOAuth, sendUnauthorized } from './auth-answers.ts';
import { sendError, sendJson } from './http-errors.ts';
import { openLegacyStream, postLegacyMessage } from './legacy-sse.ts';
import { BodyTooLargeError, sendBodyTooLarge } from './read-body.ts';
import { isForwarded, isLoopbackPeer, RequestGuard } from './request-guard.ts';
import { SessionRegistry } from './session-registry.ts';
import { DEFAULT_MAX_STREAM_BUFFER_BYTES, Heartbeat } from './sse-stream.ts';
import { handleStreamable, type EndpointContext } from './streamable-endpoint.ts';
import type { ResponseMode, SessionLimits } from './streamable-session.ts';

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
  health?: () => { state: string; reasons: string[]; [key: string]: unknown };
  /** Prometheus exposition for GET /metrics (loopback callers only). */
  metrics?: { text: () => Promise<string>; contentType: string };
  /** Per-teammate limits. */
  access?: { rate: TokenBucket; sessions: SessionCap; describeRate: string };
  /** A 5xx answer, for the error-rate metric. */
  onServerError?: () => void;
  /** The 2026-07-28 era beside 2025 on every endpoint (server/modern); absent: 2025 only. */
  modern?: ModernExchangeOptions;
  /** The admin API (loopback, own secret); absent: no /admin routes. */
  admin?: AdminRoute;
  /** Sign in with Harbor (server/oauth/); absent: static tokens only and nothing of OAuth advertised. */
  oauth?: OAuthGate;
}

/** Handed in by the host like the admin route, so server/oauth (which builds on http/) is not imported from here. */
export interface OAuthGate {
  /** Answers the OAuth endpoints, their metadata and the sign-in pages; false for any other path. */
  route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** Who is calling, per the auth mode (a static token, or the SDK's bearer check with audience); null: it answered 401. */
  authenticate(
    req: IncomingMessage,
    res: ServerResponse,
    at: { kind: string; server: string; kindFirst: boolean; pathToken: boolean; staticTeammate: Teammate | null },
  ): Promise<Pick<Teammate, 'name' | 'scope'> | null>;
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
  const { log, servers, tokens } = options;
  const startedAt = Date.now();
  const heartbeat = new Heartbeat(options.heartbeatMs);
  const registry = new SessionRegistry({ ttlMs: options.sessionTtlMs, log });
  const guard = new RequestGuard({ bindHost: options.bindHost, allowedOrigins: options.allowedOrigins ?? [] });
  let responseMode = options.responseMode;
  const ctx: EndpointContext = {
    registry,
    heartbeat,
    maxBodyBytes: options.maxBodyBytes,
    limits: sessionLimits(options.limits),
    modern: options.modern,
    responseMode: () => responseMode,
    log,
    admitSession: (teammate, sessionId) => {
      if (!options.access) return null;
      const admitted = options.access.sessions.acquire(teammate, sessionId);
      return admitted.ok ? null : `Too many sessions: ${teammate} has ${admitted.limit} open and every one is busy (a request in flight or a stream open); this is the per-teammate session limit (limits.sessionsPerTeammate)`;
    },
  };
  registry.onClosed = (session) => {
    options.access?.sessions.release(session.id);
  };
  if (options.access) {
    // At the cap, the teammate's least recently used idle session makes room (session-cap.ts).
    options.access.sessions.activity = (id) => {
      const session = registry.get(id);
      return session && { lastActivity: session.lastActivity, busy: session.openStreams > 0 || (session.inFlight ?? 0) > 0 };
    };
    options.access.sessions.onEvict = (id) => void registry.end(id, 'closed for a newer session of the same teammate (session limit)');
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Concatenated, not resolved: a path like `//evil` must stay a path, not become a host.
    let url: URL;
    try {
      url = new URL(`http://localhost${req.url?.startsWith('/') ? req.url : '/'}`);
    } catch {
      sendError(res, 400, 'Bad Request: malformed URL');
      return;
    }
    const path = url.pathname;
    const check = guard.check(req);
    if (!check.ok) {
      sendError(res, 403, `Forbidden: ${check.reason}`);
      return;
    }
    const local = isLoopbackPeer(req) && !isForwarded(req);
    // The dashboard's files, for this machine only (its API calls carry the admin secret).
    if (local && (await serveAppAsset(req, res, path))) return;
    if (path === '/health') {
      // Teammates and load balancers probe it through the tunnel: the colour only. The reasons name
      // processes and figures, so only the machine's own user sees them.
      const health = options.health?.() ?? { state: 'green', reasons: [] };
      const body: Record<string, unknown> = {
        status: health.state,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      };
      if (local) {
        Object.assign(body, health);
        body.servers = [...servers.values()].map((s) => ({ name: s.name, up: s.status().upstreams.some((u) => u.up) || s.mode === 'isolated' }));
      }
      sendJson(res, 200, body);
      return;
    }
    if (path === '/metrics') {
      if (!options.metrics) {
        sendError(res, 404, 'Not found');
        return;
      }
      if (!local) {
        sendError(res, 403, 'Forbidden: /metrics answers loopback scrapers only');
        return;
      }
      const text = await options.metrics.text();
      res.writeHead(200, { 'Content-Type': options.metrics.contentType });
      res.end(text);
      return;
    }
    if (path === '/admin' || path.startsWith('/admin/')) {
      if (!options.admin) {
        sendError(res, 404, 'Not found');
        return;
      }
      return options.admin(req, res, path, url, registry);
    }
    if (options.oauth && (await options.oauth.route(req, res, url))) return;
    // Without sign-in (or a document sign-in does not serve, e.g. openid-configuration): a clean 404.
    if (isOAuthPath(path)) return sendNoOAuth(res, options.oauth !== undefined);
    // /<name>/mcp, /<name>/sse, /<name>/messages (and the first form, /mcp/<name>), each optionally
    // behind /t/<token> for URL-only clients (server/access/server-url.ts).
    const match = parseServerPath(path, (name) => servers.has(name));
    if (!match) {
      sendError(res, 404, `Not found: ${path.slice(0, 100)}`);
      return;
    }
    const { pathToken, endpoint: kind, server: name, kindFirst } = match;
    const token = pathToken !== undefined ? safeDecode(pathToken) : bearerToken(req);
    const staticTeammate = token ? tokens.verify(token) : null;
    const teammate = options.oauth
      ? await options.oauth.authenticate(req, res, { kind, server: name, kindFirst, pathToken: pathToken !== undefined, staticTeammate })
      : staticTeammate;
    if (!teammate && options.oauth) return;
    if (!teammate) return sendUnauthorized(res, token ? 'invalid' : 'missing');
    const hosted = servers.get(name);
    if (!hosted) {
      // A 404 with -32600 (the request names nothing served), not -32603 (a host fault).
      sendError(res, 404, `No server named "${name}"; served: ${[...servers.keys()].join(', ') || 'none'}`);
      return;
    }
    if (teammate.scope && !teammate.scope.includes(hosted.name)) {
      sendError(res, 403, `Forbidden: this token is not allowed to use "${hosted.name}"`);
      return;
    }
    if (options.access) {
      const taken = options.access.rate.take(teammate.name);
      if (!taken.ok) {
        sendError(res, 429, `Too many requests: rate limit for ${teammate.name} is ${options.access.describeRate}; retry in ${taken.retryAfterSeconds}s`, {
          headers: { 'Retry-After': String(taken.retryAfterSeconds) },
          code: ErrorCode.LimitExceeded,
        });
        return;
      }
    }
    tokens.touch(teammate.name);
    const caller = { teammate: teammate.name, viaTunnel: isForwarded(req) };
    if (kind === 'mcp') return handleStreamable(req, res, hosted, caller, ctx);
    if (kind === 'sse') {
      if (req.method !== 'GET') {
        sendError(res, 405, 'Method not allowed', { headers: { Allow: 'GET' } });
        return;
      }
      // The POST address in the form the stream was opened by, so a proxy rule written for it holds.
      const messages = serverPath(hosted.name, { endpoint: 'messages', kindFirst, ...(pathToken !== undefined ? { token: safeDecode(pathToken) ?? '' } : {}) });
      openLegacyStream(res, hosted, caller, messages, ctx);
      return;
    }
    if (req.method !== 'POST') {
      sendError(res, 405, 'Method not allowed', { headers: { Allow: 'POST' } });
      return;
    }
    return postLegacyMessage(req, res, hosted, caller, url.searchParams.get('sessionId'), ctx);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: Error) => {
      options.onServerError?.();
      log.error({ err: error.message, stack: error.stack, path: req.url?.split('?')[0]?.replace(/\/t\/[^/]+/, '/t/[redacted]') }, 'request failed');
      sendError(res, 500, 'Internal error');
    });
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

  return {
    server,
    registry,
    guard,
    heartbeat,
    setResponseMode(mode) {
      responseMode = mode;
    },
    async listen(port) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, options.bindHost, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const actual = (server.address() as AddressInfo).port;
      guard.setPort(actual);
      registry.start();
      const host = options.bindHost.includes(':') ? `[${options.bindHost}]` : options.bindHost;
      return { port: actual, url: `http://${host}:${actual}` };
    },
    async close() {
      await registry.closeAll('host shutting down');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function sessionLimits(overrides: Partial<SessionLimits> = {}): SessionLimits {
  const limits = { maxStoredEvents: 256, maxStoredBytes: 1024 * 1024, sseAfterMs: 1000, maxStreamBufferBytes: DEFAULT_MAX_STREAM_BUFFER_BYTES, ...overrides };
  // A resumption replays up to the whole event store in one go: a stream bound below that would drop
  // every resumed stream at once, so the bound is kept at twice the store's.
  limits.maxStreamBufferBytes = Math.max(limits.maxStreamBufferBytes, 2 * limits.maxStoredBytes);
  return limits;
}

function safeDecode(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}
