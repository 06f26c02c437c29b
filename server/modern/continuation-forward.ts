import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from '../node-http.ts';
import { ErrorCode, errorResponse, isRequest, type JsonRpcMessage, type JsonRpcResponse } from '../gateway/jsonrpc.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { ModernErrorCode } from './protocol.ts';
import { requestDigest, type RequestStateCodec } from './request-state.ts';

/**
 * Loop guard: set on a forwarded continuation, naming the replica that forwarded it. A request that
 * carries it is served where it lands, never forwarded again (two directories disagreeing cannot
 * bounce a request between replicas).
 */
export const FORWARDED_FROM_HEADER = 'x-harbor-forwarded-from';

/** Where a replica can be reached, by name; null when it is unknown or gone (PgReplicaDirectory). */
export interface ReplicaLookup {
  urlOf(name: string): Promise<string | null>;
}

export interface ContinuationForwarderOptions {
  /** This replica's name: states naming it are served here. */
  replica: string;
  /** The codec every replica shares (one signing key): only a state that verifies is routed. */
  codec: RequestStateCodec;
  /** The replica directory; null on a single host (a state naming another replica cannot be served). */
  directory: ReplicaLookup | null;
  /** How long reaching the other replica may take before it counts as gone (default 5 s). */
  connectTimeoutMs?: number;
  log?: Logger;
}

export type ForwardOutcome =
  /** Serve the request here: no requestState, one of this replica's, or one the translator will refuse. */
  | { kind: 'local' }
  /** Relayed: the other replica's answer went to the client (or the client left). */
  | { kind: 'forwarded' }
  /** Neither: answer the client this. */
  | { kind: 'refused'; status: number; response: JsonRpcResponse };

export type ContinuationForwarder = (req: IncomingMessage, res: ServerResponse, message: JsonRpcMessage, teammate: string) => Promise<ForwardOutcome>;

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the length, which the re-serialised body sets itself. */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'proxy-authorization']);

/**
 * A 2026-07-28 continuation (a retry carrying `requestState`) is stateless for the client, but its
 * upstream call is parked in one replica's memory (PendingCalls): the replica named in the state.
 * When the load balancer sends the retry elsewhere, this relays it over HTTP to that replica, headers
 * as received (its Authorization is checked again there: replicas do not trust each other's callers),
 * and streams the answer back. Re-running the call here instead is not safe in general: the tool may
 * have acted before it asked for input.
 *
 * Trade-off: the relay is written on node:http rather than a proxy library, because it is one request
 * with a known body and a streamed answer, and the refusals (replica gone, loop) must be JSON-RPC
 * answers the client understands, which a generic proxy's error pages are not.
 */
export function createContinuationForwarder(options: ContinuationForwarderOptions): ContinuationForwarder {
  const log = options.log ?? silentLogger;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  return async (req, res, message, teammate) => {
    const owner = ownerOf(options.codec, message, teammate);
    if (owner === null || owner === options.replica) return { kind: 'local' };
    const id = isRequest(message) ? message.id : null;
    const forwardedFrom = req.headers[FORWARDED_FROM_HEADER];
    if (forwardedFrom !== undefined) {
      log.warn({ owner, forwardedFrom }, 'continuation forwarded to a replica that does not hold it; not forwarding again');
      return refused(502, errorResponse(id, ErrorCode.InternalError, `requestState names replica "${owner}", and replica "${String(forwardedFrom)}" forwarded this request to "${options.replica}": the replicas disagree on where "${owner}" is. Call again without requestState to start over`, { reason: 'loop', replica: owner }));
    }
    const url = options.directory ? await options.directory.urlOf(owner).catch(() => null) : null;
    if (url === null) return refused(200, gone(id, owner, options.directory ? 'is not running any more' : 'cannot be reached: this Harbor has no replica directory (it needs the shared PostgreSQL store)'));
    const body = JSON.stringify(message);
    // The directory gives the origin, the client only the path: a path like `//elsewhere/…` must not
    // turn the relay toward another host (the route table refuses such paths today; this holds anyway).
    const base = new URL(url);
    const target = new URL(`${base.origin}${(req.url ?? '/').replace(/^[/\\]+/, '/')}`);
    if (target.origin !== base.origin) return refused(400, errorResponse(id, ErrorCode.InvalidRequest, 'this request path cannot be relayed'));
    const started = await relay(req, res, target, body, options.replica, connectTimeoutMs);
    if (!started.ok) {
      log.warn({ owner, err: started.error }, 'continuation not forwarded: the replica holding it did not answer');
      return refused(200, gone(id, owner, `did not answer (${started.error})`));
    }
    log.info({ owner, status: started.status }, 'continuation forwarded to the replica holding its call');
    return { kind: 'forwarded' };
  };
}

/** The replica a valid requestState names, or null (no state, not verified, or minted by a single host). */
export function ownerOf(codec: RequestStateCodec, message: JsonRpcMessage, teammate: string): string | null {
  if (!isRequest(message) || message.params?.requestState === undefined) return null;
  const verdict = codec.verify(message.params.requestState, { teammate, request: requestDigest(message.method, message.params) });
  return verdict.ok ? verdict.claims.replica ?? null : null;
}

function refused(status: number, response: JsonRpcResponse): ForwardOutcome {
  return { kind: 'refused', status, response };
}

/** The same code and reason as the translator's own "no longer waiting": clients start over on either. */
function gone(id: JsonRpcResponse['id'], owner: string, why: string): JsonRpcResponse {
  return errorResponse(id, ModernErrorCode.InvalidParams, `Invalid params: the replica holding this call ("${owner}") ${why}; the pending call died with it. Call again without requestState to start over`, { reason: 'gone', replica: owner });
}

function forwardedHeaders(headers: IncomingHttpHeaders, body: string, self: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !NOT_FORWARDED.has(name)) out[name] = value;
  }
  out['content-length'] = String(Buffer.byteLength(body));
  out[FORWARDED_FROM_HEADER] = self;
  return out;
}

type RelayStart = { ok: true; status: number } | { ok: false; error: string };

/**
 * Sends the request and, once the answer's head arrives, pipes it to `res` (SSE event by event).
 * Resolves when the head arrived (ok) or when the other replica could not be reached (not ok, nothing
 * written to `res`). The client leaving closes the relayed request: the owner cancels the call, as
 * if the client had closed its stream there.
 */
function relay(req: IncomingMessage, res: ServerResponse, target: URL, body: string, self: string, connectTimeoutMs: number): Promise<RelayStart> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (start: RelayStart) => {
      if (!settled) resolve(start);
      settled = true;
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    // A fresh connection each time (agent: false): continuations are rare, and a stale pooled socket
    // would fail as if the replica were gone.
    const outgoing = send(target, { method: 'POST', agent: false, headers: forwardedHeaders(req.headers, body, self) }, (answer) => {
      clearTimeout(connectTimer);
      const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !NOT_FORWARDED.has(name) || name === 'content-length'));
      res.writeHead(answer.statusCode ?? 502, headers as Record<string, string | string[]>);
      res.flushHeaders();
      answer.pipe(res);
      answer.once('error', () => res.destroy());
      settle({ ok: true, status: answer.statusCode ?? 502 });
    });
    // Only reaching the replica is bounded: the call itself may run long (its stream sends keep-alives).
    const connectTimer = setTimeout(() => outgoing.destroy(new Error(`no answer within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    outgoing.once('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once('connect', () => clearTimeout(connectTimer));
    });
    outgoing.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (!settled) settle({ ok: false, error: error.code ?? error.message });
      else res.destroy();
    });
    res.once('close', () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    outgoing.end(body);
  });
}
