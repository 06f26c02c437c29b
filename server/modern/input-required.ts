import type { ConnectedVia } from '../auth/connected-via.ts';
import { ErrorCode, errorResponse, type JsonRpcId, type JsonRpcRequest, type JsonRpcResponse } from '../gateway/jsonrpc.ts';
import type { Envelope } from './envelope.ts';
import { scheduleUnref, type Schedule } from '../gateway/unref-timer.ts';
import { DEFAULT_COALESCE_MS, ModernCall, type CallCancel, type NotificationSink, type RoundTiming } from './modern-call.ts';
import { PendingCalls } from './pending-calls.ts';
import type { RouterPort } from './router-port.ts';
import { ENVELOPE_KEYS, INPUT_REQUIRED_METHODS, ModernErrorCode } from './protocol.ts';
import { requestDigest, type RequestStateCodec } from './request-state.ts';

export interface ModernCaller {
  teammate: string;
  /** How the teammate authenticated: the call's audit row says it (a retry keeps the first round's). */
  via?: ConnectedVia | undefined;
  /** Hosted server name: a requestState is only good for the server that minted it. */
  server: string;
  envelope: Envelope;
}

export interface TranslatorOptions {
  codec: RequestStateCodec;
  /** How long a parked call waits for its caller's input (DEFAULT_INPUT_TTL_MS: 5 min). */
  ttlMs?: number;
  /** Calls parked at once, over all servers and teammates. */
  maxPending?: number;
  /** This replica's name, written into each requestState so a retry elsewhere can be forwarded here. */
  replica?: string;
  now?: () => number;
  /** How long a round waits for more of a call's server→client requests (DEFAULT_COALESCE_MS, modern-call.ts). */
  coalesceMs?: number;
  /** The coalescing window's timer; tests drive it. */
  schedule?: Schedule;
}

/**
 * Serves modern calls on a legacy upstream. A server→client request the upstream sends while serving
 * the call (sampling/createMessage, elicitation/create, roots/list) becomes an InputRequiredResult:
 * `inputRequests` keyed by Harbor, and a signed `requestState` naming the parked upstream call. The
 * retry's `inputResponses` answer the upstream's requests, and the caller gets the final result or the
 * next round. Keys are Harbor's ("elicitation-1", "sampling-2"): a legacy request carries no name.
 */
export class InputRequiredTranslator {
  readonly #codec: RequestStateCodec;
  readonly #replica: string | undefined;
  /** Calls between rounds; sweep it (pending.startSweeping()) so abandoned ones expire. */
  readonly pending: PendingCalls<ModernCall>;
  readonly #pending: PendingCalls<ModernCall>;
  readonly #timing: RoundTiming;

  constructor(options: TranslatorOptions) {
    this.#codec = options.codec;
    this.#replica = options.replica;
    this.#timing = { coalesceMs: options.coalesceMs ?? DEFAULT_COALESCE_MS, schedule: options.schedule ?? scheduleUnref };
    this.#pending = this.pending = new PendingCalls<ModernCall>({
      ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
      ...(options.maxPending !== undefined ? { maxEntries: options.maxPending } : {}),
      ...(options.now ? { now: options.now } : {}),
      onExpire: (call) => this.#expire(call),
    });
  }

  #expire(call: ModernCall): void {
    const router = call.router;
    if (!router) return;
    const seconds = Math.round(this.#pending.ttlMs / 1000);
    this.#abandon(call, router, `the caller did not provide this input within ${seconds}s`);
  }

  /**
   * Revocation: every call of `teammate` parked between rounds is abandoned now (the upstream's open
   * requests get an error, the call is cancelled upstream), not left to its expiry; their retry would
   * be refused at the door anyway. Returns how many.
   */
  abandonTeammate(teammate: string, why: string): number {
    const theirs = [...this.#pending.values()].filter((call) => call.teammate === teammate && call.router);
    for (const call of theirs) this.#abandon(call, call.router!, why);
    return theirs.length;
  }

  /** begin() as a promise: the tool-schema fetch (tool-call-headers.ts) and tests. */
  serve(router: RouterPort, caller: ModernCaller, request: JsonRpcRequest, sink: NotificationSink | null, cancel?: CallCancel): Promise<JsonRpcResponse> {
    return new Promise((resolve) => this.begin(router, caller, request, sink, cancel, resolve));
  }

  /**
   * One modern request: a first round, or (with `requestState`) a retry. `sink` gets the round's
   * notifications (progress, opted-in logs) for its response stream; `reply` the response, once (at
   * once for a refused retry, else from a microtask: ModernCall.whenSettled). The response is always a
   * fresh object (the router's may be shared, e.g. by the tool cache): the caller may set its fields.
   */
  begin(
    router: RouterPort,
    caller: ModernCaller,
    request: JsonRpcRequest,
    sink: NotificationSink | null,
    cancel: CallCancel | undefined,
    reply: (response: JsonRpcResponse) => void,
  ): void {
    if (request.params?.requestState !== undefined) return this.#resume(router, caller, request, sink, cancel, reply);
    const call = new ModernCall(caller.teammate, caller.envelope.clientCapabilities, request, this.#timing);
    call.via = caller.via;
    call.router = router;
    // mrtr "Supported Requests": only tools/call, prompts/get and resources/read may answer input_required.
    call.acceptsInput = INPUT_REQUIRED_METHODS.has(request.method);
    router.attach(call);
    call.openRound(progressTokenOf(request), caller.envelope.logLevel, sink);
    router.fromClient(call, toLegacy(request));
    this.#awaitRound(router, call, caller, request.id, cancel, reply);
  }

  #resume(
    router: RouterPort,
    caller: ModernCaller,
    request: JsonRpcRequest,
    sink: NotificationSink | null,
    cancel: CallCancel | undefined,
    reply: (response: JsonRpcResponse) => void,
  ): void {
    const params = request.params ?? {};
    const verdict = this.#codec.verify(params.requestState, { teammate: caller.teammate, request: requestDigest(request.method, params) });
    if (!verdict.ok) return reply(invalid(request.id, verdict.message, { reason: verdict.reason }));
    const { claims } = verdict;
    if (claims.server !== caller.server) return reply(invalid(request.id, 'requestState belongs to another server'));
    const call = this.#pending.get(claims.call);
    if (!call) {
      return reply(invalid(request.id, 'the call this requestState names is no longer waiting (it finished, expired, or Harbor restarted); call again without requestState', { reason: 'gone' }));
    }
    if (claims.round !== call.round) return reply(invalid(request.id, 'requestState is from an earlier round of this call', { reason: 'stale' }));
    const responses = params.inputResponses ?? {};
    if (!isObject(responses)) return reply(invalid(request.id, 'inputResponses must be an object keyed by the inputRequests keys'));
    for (const key of call.outstanding.keys()) {
      if (key in responses && !isObject(responses[key])) return reply(invalid(request.id, `inputResponses.${key} must be a result object`));
    }
    call.round++;
    // Capabilities are per request (basic/index "_meta"): this round's envelope decides.
    call.capabilities = caller.envelope.clientCapabilities;
    call.openRound(progressTokenOf(request), caller.envelope.logLevel, sink);
    for (const [key, input] of [...call.outstanding]) {
      if (!(key in responses)) continue; // re-requested in the next round (mrtr "Error Handling")
      call.outstanding.delete(key);
      router.fromClient(call, { jsonrpc: '2.0', id: input.gatewayId, result: responses[key] });
    }
    this.#awaitRound(router, call, caller, request.id, cancel, reply);
  }

  #awaitRound(router: RouterPort, call: ModernCall, caller: ModernCaller, clientId: JsonRpcId, cancel: CallCancel | undefined, reply: (response: JsonRpcResponse) => void): void {
    // Closing the response stream cancels the call (streamable-http "Cancellation"): `cancel`.
    call.whenSettled(cancel, (aborted) => {
      let response: JsonRpcResponse;
      try {
        response = this.#roundAnswer(router, call, caller, clientId, aborted);
      } catch (error) {
        // Nothing awaits this callback to catch a throw: the caller hears of it instead.
        this.#abandon(call, router, 'Harbor could not answer the caller');
        response = errorResponse(clientId, ErrorCode.InternalError, `Harbor could not answer this call: ${(error as Error).message}`);
      }
      reply(response);
    });
  }

  #roundAnswer(router: RouterPort, call: ModernCall, caller: ModernCaller, clientId: JsonRpcId, aborted: boolean): JsonRpcResponse {
    call.closeRound();
    if (aborted) {
      this.#abandon(call, router, 'the caller cancelled the request');
      return errorResponse(clientId, ErrorCode.InternalError, 'request cancelled by the caller');
    }
    const final = call.final;
    if (final) {
      this.#finish(call, router);
      // A legacy server that was refused a capability and then failed needed it (basic/index "_meta":
      // -32021); one that coped (asked something else, or answered anyway) keeps its answer.
      if (call.missing && failed(final)) {
        return errorResponse(clientId, ModernErrorCode.MissingRequiredClientCapability, `Missing required client capability: ${call.missing}`, {
          requiredCapabilities: { [call.missing]: {} },
        });
      }
      return { ...final, id: clientId };
    }
    if (call.pendingId === undefined) {
      const parked = this.#pending.add(call);
      if (!parked) {
        this.#abandon(call, router, 'Harbor has too many calls waiting for input');
        return errorResponse(clientId, ErrorCode.LimitExceeded, 'too many calls are waiting for input on this Harbor; try again later');
      }
      call.pendingId = parked.id;
    }
    const expiresAt = this.#pending.renew(call.pendingId)!;
    const requestState = this.#codec.mint({
      call: call.pendingId,
      round: call.round,
      teammate: caller.teammate,
      server: caller.server,
      request: requestDigest(call.method, { name: call.target }),
      expiresAt,
      ...(this.#replica !== undefined ? { replica: this.#replica } : {}),
    });
    const inputRequests: Record<string, unknown> = {};
    for (const input of call.outstanding.values()) inputRequests[input.key] = { method: input.method, params: input.params };
    return { jsonrpc: '2.0', id: clientId, result: { resultType: 'input_required', inputRequests, requestState } };
  }

  #finish(call: ModernCall, router: RouterPort): void {
    if (call.pendingId !== undefined) this.#pending.delete(call.pendingId);
    router.detach(call);
    call.release();
  }

  /** The upstream's open requests get an error, the call is cancelled upstream, the peer detached. */
  #abandon(call: ModernCall, router: RouterPort, why: string): void {
    for (const input of call.outstanding.values()) {
      router.fromClient(call, errorResponse(input.gatewayId, ErrorCode.InternalError, why));
    }
    call.outstanding.clear();
    call.closeRound();
    if (call.pendingId !== undefined) this.#pending.delete(call.pendingId);
    // detach sends notifications/cancelled for the call still in flight upstream.
    router.detach(call);
    call.release();
  }
}

function failed(response: JsonRpcResponse): boolean {
  return response.error !== undefined || (response.result as { isError?: unknown } | undefined)?.isError === true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function progressTokenOf(request: JsonRpcRequest): JsonRpcId | undefined {
  const token = (request.params?._meta as Record<string, unknown> | undefined)?.progressToken;
  return typeof token === 'string' || typeof token === 'number' ? token : undefined;
}

/** The request as a legacy upstream expects it: no envelope keys, no MRTR fields. */
export function toLegacy(request: JsonRpcRequest): JsonRpcRequest {
  // `rest` is already a fresh object: the upstream's params, not a copy of a copy.
  const { inputResponses: _responses, requestState: _state, _meta, ...params } = request.params ?? {};
  if (isObject(_meta)) {
    // A loop, not entries/filter/fromEntries: this runs on every modern call (bench/echo-eras.ts).
    let meta: Record<string, unknown> | undefined;
    for (const key in _meta) {
      if (!ENVELOPE_KEYS.includes(key)) (meta ??= {})[key] = _meta[key];
    }
    if (meta) params._meta = meta;
  }
  return { jsonrpc: '2.0', id: request.id, method: request.method, params };
}

function invalid(id: JsonRpcId, message: string, data?: Record<string, unknown>): JsonRpcResponse {
  return errorResponse(id, ModernErrorCode.InvalidParams, `Invalid params: ${message}`, data);
}
