import { newSessionId } from './session-id.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConnectedVia } from '../auth/connected-via.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import { ErrorCode, isRequest, type JsonRpcRequest } from '../gateway/jsonrpc.ts';
import { isSupportedProtocolVersion, negotiateProtocolVersion } from '../gateway/protocol-version.ts';
import type { Logger } from '../logger.ts';
import { forwardMessages, openSessionSafely } from './forward-messages.ts';
import { isModernMessage, isModernVersion } from '../modern/envelope.ts';
import type { ModernExchangeOptions } from '../modern/modern-exchange.ts';
import { handleModernPost } from './modern-post.ts';
import { sendError, sendJson } from './http-errors.ts';
import { readMessages } from './parse-messages.ts';
import type { SessionRegistry } from './session-registry.ts';
import type { Heartbeat } from './sse-stream.ts';
import { StreamableSession, type ResponseMode, type SessionLimits } from './streamable-session.ts';

export interface EndpointContext {
  registry: SessionRegistry;
  heartbeat: Heartbeat;
  limits: SessionLimits;
  maxBodyBytes: number;
  /** Read per session at creation: quick tunnels force JSON. */
  responseMode: () => ResponseMode;
  log: Logger;
  /** Admits a new session for a teammate; returns why not, when over their limit. */
  admitSession: (teammate: string, sessionId: string) => string | null;
  /** The 2026-07-28 era (modern-post.ts); absent: every request is served as 2025. */
  modern?: ModernExchangeOptions | undefined;
}

/** The caller, as the auth layer established it. */
export interface Caller {
  teammate: string;
  /** How they authenticated: a session keeps the way it was opened with, for its audit rows. */
  via: ConnectedVia;
  /** The request came through the tunnel (or another proxy): for the share state's connection count. */
  viaTunnel: boolean;
}

/**
 * Streamable HTTP (2025-03-26 … 2025-11-25, and 2026-07-28 beside it): one endpoint, POST / GET / DELETE,
 * each a route of the host's table (host-server.ts), which answers the 405 of any other method.
 */
export function handleStreamableGet(req: IncomingMessage, res: ServerResponse, hosted: HostedServer, caller: Caller, ctx: EndpointContext): void {
  if (refusedAsModern(req, res)) return;
  if (!acceptsEventStream(req)) {
    sendError(res, 406, 'Not Acceptable: a GET stream needs Accept: text/event-stream');
    return;
  }
  const session = findSession(req, res, hosted, caller, ctx);
  if (!session) return;
  const lastEventId = header(req, 'last-event-id');
  const refused = session.handleGet(res, lastEventId);
  if (refused) sendError(res, refused.status, refused.message);
}

export async function handleStreamableDelete(req: IncomingMessage, res: ServerResponse, hosted: HostedServer, caller: Caller, ctx: EndpointContext): Promise<void> {
  if (refusedAsModern(req, res)) return;
  const session = findSession(req, res, hosted, caller, ctx);
  if (!session) return;
  await ctx.registry.end(session.id, 'deleted by client');
  res.writeHead(200).end();
}

/** The 2026-07-28 era has no GET stream and no session to delete (streamable-http): a 405 naming POST. */
function refusedAsModern(req: IncomingMessage, res: ServerResponse): boolean {
  if (!isModernGetOrDelete(req)) return false;
  sendError(res, 405, `Method ${req.method} not allowed in protocol 2026-07-28: POST only`, { headers: { Allow: 'POST' } });
  return true;
}

export async function handleStreamablePost(
  req: IncomingMessage,
  res: ServerResponse,
  hosted: HostedServer,
  caller: Caller,
  ctx: EndpointContext,
): Promise<void> {
  const accept = header(req, 'accept');
  if (accept && !/application\/json|text\/event-stream|\*\/\*/i.test(accept)) {
    sendError(res, 406, 'Not Acceptable: the client must accept application/json and text/event-stream');
    return;
  }
  if (!/^application\/json\b/i.test(header(req, 'content-type') ?? '')) {
    sendError(res, 415, 'Unsupported Media Type: Content-Type must be application/json');
    return;
  }
  const parsed = await readMessages(req, res, ctx.maxBodyBytes);
  if (!parsed) return;
  const { messages, batch } = parsed;
  if (!batch && ctx.modern && isModernMessage(messages[0] as { params?: Record<string, unknown> }, header(req, 'mcp-protocol-version'))) {
    const { modern, heartbeat, log, limits } = ctx;
    const { maxStreamBufferBytes } = limits;
    const allowStream = ctx.responseMode() !== 'json';
    // Awaited only when it is a promise (a replica asked first): `await undefined` still suspended and
    // resumed this function, a promise and a microtask per modern call (bench/alloc-per-call.ts).
    const forwarding = handleModernPost(req, res, hosted, caller.teammate, messages[0]!, { modern, heartbeat, log, maxStreamBufferBytes, allowStream, via: caller.via, streams: ctx.registry.streams });
    if (forwarding) await forwarding;
    return;
  }
  const initialize = messages.find((m): m is JsonRpcRequest => isRequest(m) && m.method === 'initialize');
  if (initialize) {
    if (messages.length > 1) {
      sendError(res, 400, 'Invalid request: initialize must be sent alone');
      return;
    }
    await startSession(res, hosted, caller, initialize, ctx);
    return;
  }
  const session = findSession(req, res, hosted, caller, ctx);
  if (!session) return;
  session.lastActivity = Date.now();
  const requests = messages.filter(isRequest);
  if (requests.length === 0) {
    forwardMessages(hosted, session, messages, ctx.log);
    res.writeHead(202).end();
    return;
  }
  session.handlePost(
    res,
    requests.map((r) => r.id),
    batch,
  );
  forwardMessages(hosted, session, messages, ctx.log);
}

async function startSession(
  res: ServerResponse,
  hosted: HostedServer,
  caller: Caller,
  initialize: JsonRpcRequest,
  ctx: EndpointContext,
): Promise<void> {
  const session = new StreamableSession({
    id: newSessionId(),
    teammate: caller.teammate,
    via: caller.via,
    viaTunnel: caller.viaTunnel,
    server: hosted,
    protocolVersion: negotiateProtocolVersion(initialize.params?.protocolVersion),
    heartbeat: ctx.heartbeat,
    limits: ctx.limits,
    responseMode: ctx.responseMode(),
    log: ctx.log,
  });
  const refused = ctx.admitSession(caller.teammate, session.id);
  if (refused) {
    sendError(res, 429, refused, { code: ErrorCode.LimitExceeded, id: initialize.id, headers: { 'Retry-After': '60' } });
    return;
  }
  const response = await openSessionSafely(hosted, session, initialize, ctx.log);
  if (response.error) {
    ctx.registry.onClosed(session, 'initialize failed');
    sendJson(res, 200, response);
    return;
  }
  ctx.registry.add(session);
  ctx.log.info({ session: session.id, teammate: caller.teammate, server: hosted.name }, 'session started');
  sendJson(res, 200, response, { 'mcp-session-id': session.id });
}

/**
 * The session a request names. Missing id → 400; unknown, ended, or someone else's → 404, which tells
 * clients to re-initialise (a 400 here breaks them).
 */
function findSession(
  req: IncomingMessage,
  res: ServerResponse,
  hosted: HostedServer,
  caller: Caller,
  ctx: EndpointContext,
): StreamableSession | null {
  const id = header(req, 'mcp-session-id');
  if (!id) {
    sendError(res, 400, 'Bad Request: Mcp-Session-Id header is required');
    return null;
  }
  const version = header(req, 'mcp-protocol-version');
  if (version !== undefined && !isSupportedProtocolVersion(version)) {
    sendError(res, 400, `Bad Request: unsupported MCP-Protocol-Version "${version.slice(0, 40)}"`);
    return null;
  }
  const session = ctx.registry.get(id);
  if (
    !(session instanceof StreamableSession) ||
    session.closed ||
    session.server !== hosted ||
    session.teammate !== caller.teammate
  ) {
    sendError(res, 404, 'Session not found: initialize a new session', { code: ErrorCode.UpstreamUnavailable });
    return null;
  }
  return session;
}

/** A GET or DELETE with no session that names a modern protocol version. */
function isModernGetOrDelete(req: IncomingMessage): boolean {
  if ((req.method !== 'GET' && req.method !== 'DELETE') || header(req, 'mcp-session-id')) return false;
  return isModernVersion(header(req, 'mcp-protocol-version')?.trim());
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function acceptsEventStream(req: IncomingMessage): boolean {
  const accept = header(req, 'accept');
  return !accept || /text\/event-stream|\*\/\*/i.test(accept);
}
