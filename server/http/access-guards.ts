import type { SessionCap } from '../access/session-cap.ts';
import type { TokenBucket } from '../access/token-bucket.ts';
import type { TokenStore } from '../auth/token-store.ts';
import { ErrorCode } from '../gateway/jsonrpc.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import { sendError } from './http-errors.ts';
import { isForwarded } from './request-guard.ts';
import type { Guard } from './route-table.ts';
import type { Caller } from './streamable-endpoint.ts';
import type { Authenticated, AuthenticatedTeammate } from './auth-guards.ts';

/** Per-teammate limits (config `limits`). */
export interface TeammateLimits {
  rate: TokenBucket;
  sessions: SessionCap;
  describeRate: string;
  /** A request refused by the rate (HTTP 429), for the audit log and the metrics. */
  onRefused?: (refusal: RateRefusal) => void;
}

/** A 429: who, on which server, and the error they were told (the body was not read: no method or tool). */
export interface RateRefusal {
  teammate: string;
  via: AuthenticatedTeammate['via'];
  server: string;
  error: string;
}

export interface Served extends Authenticated {
  hosted: HostedServer;
}

/** A call every guard let through: the server and the caller the handlers serve. */
export interface ServerCall extends Served {
  caller: Caller;
}

/**
 * The server the path names. Looked up after authentication, so a caller without a token cannot tell
 * a hosted name from any other; a 404 with -32600 (the request names nothing served), not -32603.
 */
export function hostedServer(servers: ReadonlyMap<string, HostedServer>): Guard<Authenticated, Served> {
  return (_req, res, request) => {
    const hosted = servers.get(request.route.server);
    if (hosted) return { ...request, hosted };
    sendError(res, 404, `No server named "${request.route.server}"; served: ${[...servers.keys()].join(', ') || 'none'}`);
    return null;
  };
}

/** A token scoped to some servers reaches only those (403 for the others). */
export const inScope: Guard<Served, Served> = (_req, res, request) => {
  const { scope } = request.teammate;
  if (!scope || scope.includes(request.hosted.name)) return request;
  sendError(res, 403, `Forbidden: this token is not allowed to use "${request.hosted.name}"`);
  return null;
};

/** The teammate's request rate (a token bucket each): over it, a 429 with Retry-After. Without limits, every request passes. */
export function withinRate(limits: TeammateLimits | undefined): Guard<Served, Served> {
  if (!limits) return (_req, _res, request) => request;
  return (_req, res, request) => {
    const taken = limits.rate.take(request.teammate.name);
    if (taken.ok) return request;
    const error = `Too many requests: rate limit for ${request.teammate.name} is ${limits.describeRate}; retry in ${taken.retryAfterSeconds}s`;
    limits.onRefused?.({ teammate: request.teammate.name, via: request.teammate.via, server: request.hosted.name, error });
    sendError(res, 429, error, {
      headers: { 'Retry-After': String(taken.retryAfterSeconds) },
      code: ErrorCode.LimitExceeded,
    });
    return null;
  };
}

/** Let through: the teammate's last use is noted, and the caller named for the handlers. */
export function admitted(tokens: TokenStore): Guard<Served, ServerCall> {
  return (req, _res, request) => {
    tokens.touch(request.teammate.name);
    return { ...request, caller: { teammate: request.teammate.name, via: request.teammate.via, viaTunnel: isForwarded(req) } };
  };
}
