import type { Logger } from '../logger.ts';
import type { ClientCapabilities, ClientPeer } from './client-peer.ts';
import { ErrorCode, errorResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.ts';
import type { IdSpace } from './id-space.ts';
import type { Attribution, RequestAttribution } from './request-attribution.ts';

/** What a client must have declared at initialize to be asked each server→client request. */
const REQUIRED_CAPABILITY: Record<string, keyof ClientCapabilities> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

type Decision<P> = Exclude<Attribution<P>, { kind: 'hold' }>;

export interface ServerRequestsOptions<P extends ClientPeer> {
  serverName: string;
  log: Logger;
  /** Who caused a request (request-attribution.ts); its held requests are decided through `decided`. */
  attribution: RequestAttribution<P>;
  /** The router's id space: a request is delivered under a new gateway id, beside the client id of the call that sent it. */
  calls: Pick<IdSpace<P>, 'next' | 'get'>;
  /** Sessions attached to the upstream. */
  sessions: ReadonlySet<P>;
  /** Writes to the upstream; returns why a message was refused. */
  send: (message: JsonRpcMessage) => string | undefined;
}

interface Asked<P> {
  session: P;
  upstreamId: JsonRpcId;
  /** The call proven to have sent it, when one was in flight. */
  callId: number | undefined;
}

/**
 * Server→client requests of one upstream (sampling, elicitation, roots/list; DESIGN.md section 3): each
 * goes, under a gateway id, only to the session proven to have caused it, or is refused upstream with
 * a hint; its answer is taken only from the session that was asked (ids are guessable) and goes back
 * under the upstream's own id. A ping is answered here.
 */
export class ServerRequests<P extends ClientPeer> {
  readonly #options: ServerRequestsOptions<P>;
  /** Delivered to a session, by gateway id, until answered. */
  readonly #asked = new Map<number, Asked<P>>();
  /** Held until their origin is provable, by the upstream's id. */
  readonly #held = new Map<JsonRpcId, JsonRpcRequest>();

  constructor(options: ServerRequestsOptions<P>) {
    this.#options = options;
  }

  /** A request from the upstream. */
  arrived(request: JsonRpcRequest): void {
    if (request.method === 'ping') {
      this.#options.send({ jsonrpc: '2.0', id: request.id, result: {} });
      return;
    }
    const sessions = this.#options.sessions;
    const onlyPeer = sessions.size === 1 ? sessions.values().next().value : undefined;
    const decision = this.#options.attribution.arrived(request.id, onlyPeer);
    if (decision.kind === 'hold') this.#held.set(request.id, request);
    else this.#deliver(request, decision);
  }

  /** The attribution decided a held request (RequestAttribution's onDecided). */
  decided(upstreamId: JsonRpcId, decision: Decision<P>): void {
    const request = this.#held.get(upstreamId);
    this.#held.delete(upstreamId);
    if (request) this.#deliver(request, decision);
  }

  /** A session's answer to a request it was asked. */
  answered(session: P, response: JsonRpcResponse): void {
    if (typeof response.id !== 'number') return;
    const pending = this.#asked.get(response.id);
    // Only the session that was asked may answer: ids are guessable.
    if (!pending || pending.session !== session) return;
    this.#settle(response.id, pending);
    const refused = this.#options.send({ ...response, id: pending.upstreamId });
    if (refused) this.#options.send(errorResponse(pending.upstreamId, ErrorCode.InternalError, `the client's answer was not forwarded: ${refused}`));
  }

  /** The upstream withdrew one of its requests (its notifications/cancelled): forgotten if held, else passed to the session asked. */
  withdrawn(message: JsonRpcNotification): void {
    const requestId = message.params?.requestId;
    if ((typeof requestId === 'string' || typeof requestId === 'number') && this.#options.attribution.withdrawn(requestId)) {
      this.#held.delete(requestId);
      return;
    }
    for (const [gatewayId, pending] of this.#asked) {
      if (pending.upstreamId !== requestId) continue;
      this.#settle(gatewayId, pending);
      pending.session.deliver({ ...message, params: { ...message.params, requestId: gatewayId } });
    }
  }

  /** A session ended: what it was asked is answered upstream with an error. */
  sessionEnded(session: P): void {
    for (const [gatewayId, pending] of this.#asked) {
      if (pending.session !== session) continue;
      this.#settle(gatewayId, pending);
      this.#options.send(errorResponse(pending.upstreamId, ErrorCode.InternalError, 'client session ended'));
    }
  }

  /** The upstream went away: nothing it asked can be answered any more. */
  clear(): void {
    this.#asked.clear();
    this.#held.clear();
  }

  /** Delivered to the proven session, or refused upstream (no provable origin, its client gone, or a capability it lacks). */
  #deliver(request: JsonRpcRequest, decision: Decision<P>): void {
    if (decision.kind === 'refuse' || !this.#options.sessions.has(decision.peer)) {
      this.#refuse(request, decision.kind === 'refuse' ? decision.reason : 'its client went away');
      return;
    }
    const session = decision.peer;
    const capability = REQUIRED_CAPABILITY[request.method];
    if (capability && !session.capabilities[capability]) {
      session.missingCapability?.(String(capability), request.method);
      this.#options.send(errorResponse(request.id, ErrorCode.MethodNotFound, `the client does not support ${request.method}`));
      return;
    }
    const relatedId = decision.callId !== undefined ? this.#options.calls.get(decision.callId)?.originalId : undefined;
    const gatewayId = this.#options.calls.next();
    this.#asked.set(gatewayId, { session, upstreamId: request.id, callId: decision.callId });
    if (decision.callId !== undefined) this.#options.attribution.asked(decision.callId, 1);
    session.deliver({ ...request, id: gatewayId }, relatedId);
  }

  #refuse(request: JsonRpcRequest, why: string): void {
    const { serverName, log } = this.#options;
    log.warn(
      { server: serverName, method: request.method, why },
      'refused a server→client request whose origin could not be proven; use mode "serial" or "isolated" for this server',
    );
    this.#options.send(
      errorResponse(
        request.id,
        ErrorCode.AmbiguousOrigin,
        `Harbor cannot tell which client caused this ${request.method} request (${why}); configure mode "serial" or "isolated" for server "${serverName}"`,
      ),
    );
  }

  #settle(gatewayId: number, pending: Asked<P>): void {
    this.#asked.delete(gatewayId);
    if (pending.callId !== undefined) this.#options.attribution.asked(pending.callId, -1);
  }
}
