import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleAdmin, type AdminDeps } from '../admin/admin-api.ts';
import type { TokenStore } from '../auth/token-store.ts';
import { bearerToken } from '../auth/bearer.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { Logger } from '../logger.ts';
import { sendError, sendJson } from './http-errors.ts';
import { openLegacyStream, postLegacyMessage } from './legacy-sse.ts';
import { RequestGuard } from './request-guard.ts';
import { SessionRegistry } from './session-registry.ts';
import { Heartbeat } from './sse-stream.ts';
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
  /** Extra content for GET /health. */
  health?: () => Record<string, unknown>;
  /** The admin API (loopback, own secret); absent: no /admin routes. */
  admin?: Omit<AdminDeps, 'tokens' | 'servers' | 'registry'>;
}

export interface HostServer {
  readonly server: Server;
  readonly registry: SessionRegistry;
  readonly guard: RequestGuard;
  readonly heartbeat: Heartbeat;
  setResponseMode(mode: ResponseMode): void;
  listen(port: number): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

// /mcp/<name>, /sse/<name>, /messages/<name>, each optionally behind /t/<token> for URL-only clients.
const ROUTE = /^(?:\/t\/([^/]{1,200}))?\/(mcp|sse|messages)\/([A-Za-z0-9_.-]{1,100})\/?$/;

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
    limits: { maxStoredEvents: 256, maxStoredBytes: 1024 * 1024, sseAfterMs: 1000, ...options.limits },
    responseMode: () => responseMode,
    log,
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const check = guard.check(req);
    if (!check.ok) {
      sendError(res, 403, `Forbidden: ${check.reason}`);
      return;
    }
    if (path === '/health') {
      // Public (teammates and load balancers probe it): state only, no process details.
      sendJson(res, 200, {
        status: 'ok',
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        servers: [...servers.values()].map((s) => ({ name: s.name, up: s.status().upstreams.some((u) => u.up) || s.mode === 'isolated' })),
        ...options.health?.(),
      });
      return;
    }
    if (path === '/admin' || path.startsWith('/admin/')) {
      if (!options.admin) {
        sendError(res, 404, 'Not found');
        return;
      }
      return handleAdmin(req, res, path, { ...options.admin, tokens, servers, registry });
    }
    const match = ROUTE.exec(path);
    if (!match) {
      sendError(res, 404, `Not found: ${path.slice(0, 100)}`);
      return;
    }
    const [, pathToken, kind, name] = match;
    const token = pathToken !== undefined ? safeDecode(pathToken) : bearerToken(req);
    const teammate = token ? tokens.verify(token) : null;
    if (!teammate) {
      sendError(res, 401, token ? 'Unauthorized: invalid or revoked token' : 'Unauthorized: a bearer token is required', {
        headers: { 'WWW-Authenticate': token ? 'Bearer realm="harbor", error="invalid_token"' : 'Bearer realm="harbor"' },
        code: -32001,
      });
      return;
    }
    const hosted = servers.get(name!);
    if (!hosted) {
      sendError(res, 404, `No server named "${name}". Hosted: ${[...servers.keys()].join(', ') || 'none'}`);
      return;
    }
    if (teammate.scope && !teammate.scope.includes(hosted.name)) {
      sendError(res, 403, `Forbidden: this token is not allowed to use "${hosted.name}"`);
      return;
    }
    tokens.touch(teammate.name);
    const caller = { teammate: teammate.name };
    if (kind === 'mcp') return handleStreamable(req, res, hosted, caller, ctx);
    if (kind === 'sse') {
      if (req.method !== 'GET') {
        sendError(res, 405, 'Method not allowed', { headers: { Allow: 'GET' } });
        return;
      }
      const prefix = pathToken !== undefined ? `/t/${pathToken}` : '';
      openLegacyStream(res, hosted, caller, `${prefix}/messages/${hosted.name}`, ctx);
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
      log.error({ err: error.message, stack: error.stack, path: req.url?.split('?')[0]?.replace(/\/t\/[^/]+/, '/t/[redacted]') }, 'request failed');
      sendError(res, 500, 'Internal error');
    });
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

function safeDecode(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}
