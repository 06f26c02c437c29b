import { newSessionId } from './session-id.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConnectedVia } from '../auth/connected-via.ts';
import type { ClientCapabilities } from '../gateway/client-peer.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import { isRequest, type JsonRpcMessage } from '../gateway/jsonrpc.ts';
import { forwardMessages, openSessionSafely } from './forward-messages.ts';
import { sendError } from './http-errors.ts';
import { readMessages } from './parse-messages.ts';
import type { HostSession } from './session-registry.ts';
import { SseStream } from './sse-stream.ts';
import type { Caller, EndpointContext } from './streamable-endpoint.ts';

/** A 2024-11-05 HTTP+SSE session: one long GET stream out, POSTs to the endpoint it announced in. */
export class LegacySseSession implements HostSession {
  readonly id: string;
  readonly teammate: string;
  readonly via: ConnectedVia;
  readonly server: HostedServer;
  readonly transport = 'sse' as const;
  readonly viaTunnel: boolean;
  capabilities: ClientCapabilities = {};
  lastActivity = Date.now();
  readonly #stream: SseStream;

  constructor(id: string, stream: SseStream, caller: Caller, server: HostedServer) {
    this.id = id;
    this.via = caller.via;
    this.viaTunnel = caller.viaTunnel;
    this.#stream = stream;
    this.teammate = caller.teammate;
    this.server = server;
  }

  get openStreams(): number {
    return this.#stream.closed ? 0 : 1;
  }

  deliver(message: JsonRpcMessage): void {
    this.lastActivity = Date.now();
    this.#stream.send(JSON.stringify(message), { event: 'message' });
  }

  close(): void {
    this.#stream.end();
  }
}

/** GET /sse/<name>: opens the stream and tells the client where to POST. */
export function openLegacyStream(
  res: ServerResponse,
  hosted: HostedServer,
  caller: Caller,
  messagesPath: string,
  ctx: EndpointContext,
): void {
  const id = newSessionId();
  const refused = ctx.admitSession(caller.teammate, id);
  if (refused) {
    sendError(res, 429, refused, { headers: { 'Retry-After': '60' } });
    return;
  }
  // No resumption on this transport: a dropped slow reader ends the session and reconnects.
  const stream = new SseStream(res, {
    heartbeat: ctx.heartbeat,
    maxBufferedBytes: ctx.limits.maxStreamBufferBytes,
    log: ctx.log.child({ session: id, teammate: caller.teammate, server: hosted.name }),
  });
  const session = new LegacySseSession(id, stream, caller, hosted);
  ctx.registry.add(session);
  stream.onClose = () => void ctx.registry.end(session.id, 'stream closed');
  stream.send(`${messagesPath}?sessionId=${session.id}`, { event: 'endpoint' });
}

/**
 * POST /messages/<name>?sessionId=…: accepted at once, answered on the stream. Everything that can
 * refuse the body (size, JSON, depth, envelope) runs before the 202, so a refusal is the POST's own
 * 4xx; after the 202 every request gets its answer on the stream, an error included.
 */
export async function postLegacyMessage(
  req: IncomingMessage,
  res: ServerResponse,
  hosted: HostedServer,
  caller: Caller,
  sessionId: string | null,
  ctx: EndpointContext,
): Promise<void> {
  if (!sessionId) {
    sendError(res, 400, 'Bad Request: sessionId query parameter is required');
    return;
  }
  const session = ctx.registry.get(sessionId);
  if (!(session instanceof LegacySseSession) || session.server !== hosted || session.teammate !== caller.teammate) {
    sendError(res, 404, 'Session not found');
    return;
  }
  const parsed = await readMessages(req, res, ctx.maxBodyBytes);
  if (!parsed) return;
  res.writeHead(202, { 'Content-Type': 'text/plain' }).end('Accepted');
  session.lastActivity = Date.now();
  for (const message of parsed.messages) {
    if (isRequest(message) && message.method === 'initialize') {
      session.deliver(await openSessionSafely(hosted, session, message, ctx.log));
    } else forwardMessages(hosted, session, [message], ctx.log);
  }
}
