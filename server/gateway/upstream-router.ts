import type { Logger } from '../logger.ts';
import type { ClientCapabilities, ClientPeer } from './client-peer.ts';
import {
  ErrorCode,
  errorResponse,
  isJsonObject,
  isRequest,
  isResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.ts';
import { startLivenessProbe, type LivenessOptions, type LivenessProbe } from './liveness-probe.ts';
import { LATEST_PROTOCOL_VERSION, negotiateProtocolVersion } from './protocol-version.ts';
import { attributionKey, RequestAttribution, type Attribution } from './request-attribution.ts';
import { routedParamsProblem } from './routed-params.ts';
import type { ToolResultCache } from './tool-cache.ts';
import type { UnreadableLine } from './upstream-line.ts';
import type { Upstream } from './upstream.ts';

export interface RouterOptions {
  serverName: string;
  /** One client request in flight at a time, so server→client requests are always attributable. */
  serial: boolean;
  /** Whether the upstream may ask clients for their roots (only meaningful when one session owns it). */
  offerRoots: boolean;
  requestTimeoutMs: number;
  log: Logger;
  /** Called for every client request answered, for metrics and the audit log. */
  onCallDone?: (event: CallEvent) => void;
  /** Results of cacheable tools, served without reaching the upstream. */
  toolCache?: ToolResultCache | undefined;
  /** Intervals of the ping that notices a frozen server (liveness-probe.ts); tests shorten them. */
  liveness?: Partial<LivenessOptions> | undefined;
  /** The probe found the server frozen past its bound: restart it (calls in flight then fail at once). */
  onStuck?: (reason: string) => void;
}

export interface CallEvent {
  session: ClientPeer;
  method: string;
  tool: string | undefined;
  durationMs: number;
  /** JSON-RPC error message, if the call failed at the protocol level. */
  error: string | undefined;
  /** The tool ran and reported failure (`isError: true`). */
  toolError: boolean;
  /** What the tool said when it failed: the text parts of its result (the audit log keeps the first 1000 chars). */
  toolErrorText?: string | undefined;
  /** Answered from the tool-result cache. */
  cached: boolean;
}

interface InFlight {
  session: ClientPeer;
  originalId: JsonRpcId;
  method: string;
  tool: string | undefined;
  startedAt: number;
  originalProgressToken: JsonRpcId | undefined;
  timer: NodeJS.Timeout;
  /** Set when the answer should be kept in the tool-result cache. */
  cacheKey: string | null;
  /** The client's request as received, for a replay after a planned restart. */
  request: JsonRpcRequest;
  replayed: boolean;
}

interface ServerRequest {
  session: ClientPeer;
  upstreamId: JsonRpcId;
  /** The call proven to have sent it, when one was in flight. */
  callId: number | undefined;
}

interface SessionState {
  /** client id → gateway id of its requests in flight */
  inFlight: Map<JsonRpcId, number>;
  subscriptions: Set<string>;
}

interface InitializeResult {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: Record<string, unknown>;
  instructions?: string;
}

const HARBOR_CLIENT_INFO = { name: 'harbor', version: '0.1.0' };

/**
 * Multiplexes many client sessions onto one upstream MCP server. Client request ids and progress
 * tokens are rewritten to gateway-unique numbers so answers route back to the session that asked; a
 * server→client request goes only to a session proven to be its origin (DESIGN.md section 3).
 */
export class UpstreamRouter {
  readonly upstream: Upstream;
  readonly #options: RouterOptions;
  readonly #sessions = new Map<ClientPeer, SessionState>();
  readonly #inFlight = new Map<number, InFlight>();
  readonly #serverRequests = new Map<number, ServerRequest>();
  readonly #internal = new Map<number, (response: JsonRpcResponse) => void>();
  /** Requests waiting for the upstream to be initialised, or for their turn in serial mode. */
  #waiting: Array<{ session: ClientPeer; request: JsonRpcRequest; cacheKey?: string }> = [];
  #nextId = 1;
  /** Tools whose annotations say a second run changes nothing (readOnlyHint or idempotentHint). */
  readonly #idempotentTools = new Set<string>();
  #init: Promise<InitializeResult> | null = null;
  #initResult: InitializeResult | null = null;
  #closed = false;
  readonly #liveness: LivenessProbe;
  /** Who caused a server→client request: the interactive lane and held requests (request-attribution.ts). */
  readonly #attribution: RequestAttribution<ClientPeer>;
  /** Server→client requests held until their origin is provable, by the upstream's id. */
  readonly #heldRequests = new Map<JsonRpcId, JsonRpcRequest>();

  constructor(upstream: Upstream, options: RouterOptions) {
    this.upstream = upstream;
    this.#options = options;
    this.#attribution = new RequestAttribution<ClientPeer>({
      // Long enough for the other callers' ordinary calls to finish; short of the call timeout.
      holdMs: Math.min(30_000, options.requestTimeoutMs),
      onDecided: (id, decision) => {
        const request = this.#heldRequests.get(id);
        this.#heldRequests.delete(id);
        if (request) this.#attributed(request, decision);
      },
    });
    upstream.onMessage = (message) => this.#fromUpstream(message);
    upstream.onUnreadable = (line) => this.#unreadable(line);
    upstream.onDown = (reason, planned) => this.#upstreamDown(reason, planned);
    upstream.onUp = () => this.#upstreamUp();
    this.#liveness = this.#startLiveness();
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /** How long the upstream has left a ping unanswered while calls wait, or null when it is not unresponsive. */
  get unresponsiveForMs(): number | null {
    return this.#liveness.silentMs();
  }

  /** Whether the tool declared readOnlyHint or idempotentHint in the last tools/list (upstream-pool.ts retries those). */
  retrySafeTool(tool: string): boolean {
    return this.#idempotentTools.has(tool);
  }

  attach(session: ClientPeer): void {
    if (!this.#sessions.has(session)) this.#sessions.set(session, { inFlight: new Map(), subscriptions: new Set() });
  }

  /** Forgets a session: its calls in flight are cancelled upstream, its subscriptions released. */
  detach(session: ClientPeer): void {
    const state = this.#sessions.get(session);
    if (!state) return;
    this.#sessions.delete(session);
    this.#waiting = this.#waiting.filter((w) => w.session !== session);
    for (const gatewayId of state.inFlight.values()) {
      const entry = this.#inFlight.get(gatewayId);
      if (!entry) continue;
      clearTimeout(entry.timer);
      this.#inFlight.delete(gatewayId);
      this.#attribution.finished(gatewayId);
      this.#sendUpstream({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: gatewayId, reason: 'client session ended' },
      });
    }
    for (const [gatewayId, request] of this.#serverRequests) {
      if (request.session !== session) continue;
      this.#serverRequests.delete(gatewayId);
      this.#settledServerRequest(request);
      this.#sendUpstream(errorResponse(request.upstreamId, ErrorCode.InternalError, 'client session ended'));
    }
    for (const uri of state.subscriptions) {
      if (!this.#anySubscribed(uri)) this.#internalRequest('resources/unsubscribe', { uri }).catch(() => {});
    }
    this.#pump();
  }

  /** The upstream's initialize result (cached; initialises the upstream first if needed): server/discover republishes it. */
  initializeResult(): Promise<InitializeResult> {
    return this.#ensureInitialized();
  }

  /** Answers a client's initialize from the upstream's own (cached) initialize result. */
  async initialize(session: ClientPeer, request: JsonRpcRequest): Promise<JsonRpcResponse> {
    const params = request.params ?? {};
    session.capabilities = isJsonObject(params.capabilities) ? (params.capabilities as ClientCapabilities) : {};
    this.attach(session);
    try {
      const result = await this.#ensureInitialized();
      const answer: InitializeResult = {
        ...result,
        protocolVersion: negotiateProtocolVersion(params.protocolVersion),
      };
      return { jsonrpc: '2.0', id: request.id, result: answer };
    } catch (error) {
      this.detach(session);
      return errorResponse(
        request.id,
        ErrorCode.UpstreamUnavailable,
        `server "${this.#options.serverName}" did not initialise: ${(error as Error).message}`,
      );
    }
  }

  /** A message from a client session (anything but initialize). */
  fromClient(session: ClientPeer, message: JsonRpcMessage): void {
    const state = this.#sessions.get(session);
    if (!state) {
      if (isRequest(message)) {
        session.deliver(errorResponse(message.id, ErrorCode.InvalidRequest, 'session is not initialised'), message.id);
      }
      return;
    }
    if (isRequest(message)) {
      const problem = routedParamsProblem(message);
      if (problem) {
        session.deliver(errorResponse(message.id, ErrorCode.InvalidParams, problem), message.id);
        return;
      }
      if (message.method === 'ping') {
        session.deliver({ jsonrpc: '2.0', id: message.id, result: {} }, message.id);
        return;
      }
      if (message.method === 'resources/unsubscribe') {
        const uri = message.params!.uri as string;
        state.subscriptions.delete(uri);
        if (this.#anySubscribed(uri)) {
          session.deliver({ jsonrpc: '2.0', id: message.id, result: {} }, message.id);
          return;
        }
      } else if (message.method === 'resources/subscribe') {
        state.subscriptions.add(message.params!.uri as string);
      } else if (message.method === 'tools/call' && this.#options.toolCache) {
        const tool = message.params!.name as string;
        const key = this.#options.toolCache.cacheable(tool) ? this.#options.toolCache.key(tool, message.params?.arguments) : null;
        if (key) {
          void this.#fromCache(session, message, tool, key);
          return;
        }
      }
      this.#waiting.push({ session, request: message });
      this.#pump();
      return;
    }
    if (isResponse(message)) {
      this.#answerServerRequest(session, message);
      return;
    }
    this.#clientNotification(session, state, message as JsonRpcNotification);
  }

  /** A cacheable call: answered from the cache, or forwarded and its answer kept. */
  async #fromCache(session: ClientPeer, request: JsonRpcRequest, tool: string, key: string): Promise<void> {
    const started = performance.now();
    const hit = await this.#options.toolCache!.get(key);
    if (!this.#sessions.has(session)) return;
    if (hit !== undefined) {
      session.deliver({ jsonrpc: '2.0', id: request.id, result: hit }, request.id);
      this.#options.onCallDone?.({ session, method: request.method, tool, durationMs: performance.now() - started, error: undefined, toolError: false, cached: true });
      return;
    }
    this.#waiting.push({ session, request, cacheKey: key });
    this.#pump();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#liveness.stop();
    for (const session of [...this.#sessions.keys()]) this.detach(session);
    await this.upstream.close();
  }

  #clientNotification(session: ClientPeer, state: SessionState, message: JsonRpcNotification): void {
    switch (message.method) {
      case 'notifications/initialized':
        return; // Harbor initialised the upstream itself
      case 'notifications/cancelled': {
        const requestId = message.params?.requestId as JsonRpcId | undefined;
        if (requestId === undefined) return;
        const waitingIndex = this.#waiting.findIndex((w) => w.session === session && w.request.id === requestId);
        if (waitingIndex >= 0) {
          this.#waiting.splice(waitingIndex, 1);
          return;
        }
        const gatewayId = state.inFlight.get(requestId);
        if (gatewayId === undefined) return;
        this.#finish(gatewayId);
        this.#sendUpstream({ ...message, params: { ...message.params, requestId: gatewayId } });
        this.#pump();
        return;
      }
      case 'notifications/progress': {
        // Progress on a server→client request (rare); its token is the upstream's own.
        this.#sendUpstream(message);
        return;
      }
      default:
        this.#sendUpstream(message);
    }
  }

  /** Sends waiting requests upstream, one at a time in serial mode. */
  #pump(): void {
    if (!this.#initResult || !this.upstream.up) {
      if (this.#waiting.length > 0 && !this.#closed) {
        void this.#ensureInitialized().then(
          () => this.#pump(),
          (error: Error) => this.#failWaiting(error.message),
        );
      }
      return;
    }
    for (let i = 0; i < this.#waiting.length; ) {
      if (this.#options.serial && this.#inFlight.size > 0) return;
      const next = this.#waiting[i]!;
      // Calls that may ask their caller something wait for the interactive lane; the rest pass them.
      if (!this.#options.serial && this.#attribution.mustWait(attributionKey(next.request.method, next.request.params))) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      this.#forward(next.session, next.request, next.cacheKey ?? null);
    }
  }

  #failWaiting(why: string): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const { session, request } of waiting) {
      session.deliver(
        errorResponse(request.id, ErrorCode.UpstreamUnavailable, `server "${this.#options.serverName}" is not available: ${why}`),
        request.id,
      );
    }
  }

  #forward(session: ClientPeer, request: JsonRpcRequest, cacheKey: string | null): void {
    const state = this.#sessions.get(session);
    if (!state) return;
    const gatewayId = this.#nextId++;
    let params = request.params;
    let originalProgressToken: JsonRpcId | undefined;
    const meta = params?._meta as Record<string, unknown> | undefined;
    if (meta && meta.progressToken !== undefined) {
      originalProgressToken = meta.progressToken as JsonRpcId;
      params = { ...params, _meta: { ...meta, progressToken: gatewayId } };
    }
    const timer = setTimeout(() => this.#timeout(gatewayId), this.#options.requestTimeoutMs);
    timer.unref();
    this.#inFlight.set(gatewayId, {
      session,
      originalId: request.id,
      method: request.method,
      tool: request.method === 'tools/call' ? (request.params?.name as string) : undefined,
      startedAt: performance.now(),
      originalProgressToken,
      timer,
      cacheKey,
      request,
      replayed: (request as { _replayed?: boolean })._replayed === true,
    });
    state.inFlight.set(request.id, gatewayId);
    this.#attribution.started(gatewayId, session, attributionKey(request.method, request.params));
    const forwarded: JsonRpcRequest = { jsonrpc: '2.0', id: gatewayId, method: request.method };
    if (params) forwarded.params = params;
    const refused = this.#sendUpstream(forwarded);
    const entry = refused ? this.#finish(gatewayId) : undefined;
    if (entry) this.#reply(entry, errorResponse(request.id, ErrorCode.InvalidParams, `Harbor did not forward this request: ${refused}`));
  }

  #timeout(gatewayId: number): void {
    const entry = this.#finish(gatewayId);
    if (!entry) return;
    const seconds = Math.round(this.#options.requestTimeoutMs / 1000);
    this.#sendUpstream({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: gatewayId, reason: `timed out after ${seconds}s` },
    });
    this.#reply(entry, errorResponse(entry.originalId, ErrorCode.UpstreamUnavailable, `server "${this.#options.serverName}" did not answer within ${seconds}s`));
    this.#pump();
  }

  /** Removes a request from the books; returns it if it was still in flight. */
  #finish(gatewayId: number): InFlight | undefined {
    const entry = this.#inFlight.get(gatewayId);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.#inFlight.delete(gatewayId);
    this.#sessions.get(entry.session)?.inFlight.delete(entry.originalId);
    this.#attribution.finished(gatewayId);
    return entry;
  }

  #reply(entry: InFlight, response: JsonRpcResponse): void {
    entry.session.deliver(response, entry.originalId);
    this.#options.onCallDone?.({
      session: entry.session,
      method: entry.method,
      tool: entry.tool,
      durationMs: performance.now() - entry.startedAt,
      error: response.error?.message,
      toolError: (response.result as { isError?: unknown } | undefined)?.isError === true,
      toolErrorText: toolErrorText(response.result),
      cached: false,
    });
  }

  #fromUpstream(message: JsonRpcMessage): void {
    this.#liveness.heard();
    if (isResponse(message)) {
      const id = message.id;
      if (typeof id !== 'number') return;
      const internal = this.#internal.get(id);
      if (internal) {
        this.#internal.delete(id);
        internal(message);
        return;
      }
      const entry = this.#finish(id);
      if (!entry) return; // cancelled or timed out already
      if (!message.error) {
        if (entry.method === 'tools/list') this.#learnTools(message.result);
        if (entry.cacheKey) this.#options.toolCache?.store(entry.cacheKey, message.result);
      }
      const response: JsonRpcResponse = { ...message, id: entry.originalId };
      this.#reply(entry, response);
      this.#pump();
      return;
    }
    if (isRequest(message)) {
      this.#serverRequest(message);
      return;
    }
    this.#upstreamNotification(message as JsonRpcNotification);
  }

  /**
   * A line the upstream refused (logged there). When it answered a call, that caller hears at once
   * instead of at the timeout. An answer whose id could not be read is attributed only when exactly
   * one call is in flight (then it can only be that one); with several, failing any would be a guess
   * that could fail the wrong teammate's call, so they keep waiting for their own answers or timeouts.
   */
  #unreadable(line: UnreadableLine): void {
    let id = typeof line.id === 'number' ? line.id : undefined;
    if (id === undefined && line.id === undefined && line.response && this.#inFlight.size + this.#internal.size === 1) {
      id = this.#inFlight.keys().next().value ?? this.#internal.keys().next().value;
    }
    if (id === undefined) return;
    const why = `server "${this.#options.serverName}" answered with ${line.reason}; Harbor dropped it`;
    const internal = this.#internal.get(id);
    if (internal) {
      this.#internal.delete(id);
      internal(errorResponse(id, ErrorCode.InternalError, why));
      return;
    }
    const entry = this.#finish(id);
    if (!entry) return;
    this.#reply(entry, errorResponse(entry.originalId, ErrorCode.InternalError, why));
    this.#pump();
  }

  #upstreamNotification(message: JsonRpcNotification): void {
    const method = message.method;
    if (method === 'notifications/progress') {
      const token = message.params?.progressToken;
      if (typeof token !== 'number') return;
      const entry = this.#inFlight.get(token);
      if (!entry || entry.originalProgressToken === undefined) return;
      entry.session.deliver(
        { ...message, params: { ...message.params, progressToken: entry.originalProgressToken } },
        entry.originalId,
      );
      return;
    }
    if (method === 'notifications/cancelled') {
      // The upstream withdrew one of its own server→client requests.
      const requestId = message.params?.requestId;
      if ((typeof requestId === 'string' || typeof requestId === 'number') && this.#attribution.withdrawn(requestId)) {
        this.#heldRequests.delete(requestId);
        return;
      }
      for (const [gatewayId, request] of this.#serverRequests) {
        if (request.upstreamId !== requestId) continue;
        this.#serverRequests.delete(gatewayId);
        this.#settledServerRequest(request);
        request.session.deliver({ ...message, params: { ...message.params, requestId: gatewayId } });
      }
      return;
    }
    if (method === 'notifications/resources/updated') {
      const uri = message.params?.uri;
      if (typeof uri !== 'string') return;
      for (const [session, state] of this.#sessions) if (state.subscriptions.has(uri)) session.deliver(message);
      return;
    }
    if (method.endsWith('/list_changed')) {
      for (const session of this.#sessions.keys()) session.deliver(message);
      return;
    }
    // Logging and anything else carries no link to a request: only an unambiguous origin gets it.
    const origin = this.#origin();
    if (origin) origin.session.deliver(message, origin.relatedId);
    else this.#options.log.debug({ server: this.#options.serverName, method }, 'dropped a notification whose origin is ambiguous');
  }

  /** The session that must have caused an unattributed upstream message, if provable. */
  #origin(): { session: ClientPeer; relatedId: JsonRpcId | undefined } | null {
    let found: { session: ClientPeer; relatedId: JsonRpcId | undefined } | null = null;
    for (const [session, state] of this.#sessions) {
      if (state.inFlight.size === 0) continue;
      if (found) return null;
      found = { session, relatedId: state.inFlight.keys().next().value };
    }
    if (found) return found;
    if (this.#sessions.size === 1) {
      const only = this.#sessions.keys().next().value!;
      return { session: only, relatedId: undefined };
    }
    return null;
  }

  #serverRequest(request: JsonRpcRequest): void {
    if (request.method === 'ping') {
      this.#sendUpstream({ jsonrpc: '2.0', id: request.id, result: {} });
      return;
    }
    const onlyPeer = this.#sessions.size === 1 ? this.#sessions.keys().next().value : undefined;
    const decision = this.#attribution.arrived(request.id, onlyPeer);
    if (decision.kind === 'hold') this.#heldRequests.set(request.id, request);
    else this.#attributed(request, decision);
  }

  /** A server→client request whose origin was proven (or could not be): delivered to it, or refused. */
  #attributed(request: JsonRpcRequest, decision: Exclude<Attribution<ClientPeer>, { kind: 'hold' }>): void {
    if (decision.kind === 'refuse' || !this.#sessions.has(decision.peer)) {
      const why = decision.kind === 'refuse' ? decision.reason : 'its client went away';
      this.#options.log.warn(
        { server: this.#options.serverName, method: request.method, why },
        'refused a server→client request whose origin could not be proven; use mode "serial" or "isolated" for this server',
      );
      this.#sendUpstream(
        errorResponse(
          request.id,
          ErrorCode.AmbiguousOrigin,
          `Harbor cannot tell which client caused this ${request.method} request (${why}); configure mode "serial" or "isolated" for server "${this.#options.serverName}"`,
        ),
      );
      return;
    }
    const session = decision.peer;
    const capability = REQUIRED_CAPABILITY[request.method];
    if (capability && !session.capabilities[capability]) {
      session.missingCapability?.(String(capability), request.method);
      this.#sendUpstream(errorResponse(request.id, ErrorCode.MethodNotFound, `the client does not support ${request.method}`));
      return;
    }
    const relatedId = decision.callId !== undefined ? this.#inFlight.get(decision.callId)?.originalId : undefined;
    const gatewayId = this.#nextId++;
    this.#serverRequests.set(gatewayId, { session, upstreamId: request.id, callId: decision.callId });
    if (decision.callId !== undefined) this.#attribution.asked(decision.callId, 1);
    session.deliver({ ...request, id: gatewayId }, relatedId);
  }

  #settledServerRequest(request: ServerRequest): void {
    if (request.callId !== undefined) this.#attribution.asked(request.callId, -1);
  }

  #answerServerRequest(session: ClientPeer, response: JsonRpcResponse): void {
    if (typeof response.id !== 'number') return;
    const pending = this.#serverRequests.get(response.id);
    // Only the session that was asked may answer: ids are guessable.
    if (!pending || pending.session !== session) return;
    this.#serverRequests.delete(response.id);
    this.#settledServerRequest(pending);
    const refused = this.#sendUpstream({ ...response, id: pending.upstreamId });
    if (refused) this.#sendUpstream(errorResponse(pending.upstreamId, ErrorCode.InternalError, `the client's answer was not forwarded: ${refused}`));
  }

  #learnTools(result: unknown): void {
    this.#options.toolCache?.learn(result);
    const tools = (result as { tools?: Array<{ name?: unknown; annotations?: { readOnlyHint?: unknown; idempotentHint?: unknown } }> } | undefined)?.tools;
    if (!Array.isArray(tools)) return;
    for (const tool of tools) {
      if (!isJsonObject(tool) || typeof tool.name !== 'string') continue;
      if (tool.annotations?.readOnlyHint === true || tool.annotations?.idempotentHint === true) this.#idempotentTools.add(tool.name);
      else this.#idempotentTools.delete(tool.name);
    }
  }

  #anySubscribed(uri: string): boolean {
    for (const state of this.#sessions.values()) if (state.subscriptions.has(uri)) return true;
    return false;
  }

  /** Returns why the message was refused (see Upstream.send), if it was. */
  #sendUpstream(message: JsonRpcMessage): string | undefined {
    return this.upstream.up ? this.upstream.send(message) : undefined;
  }

  #internalRequest(method: string, params: Record<string, unknown>, timeoutMs = 30_000): Promise<JsonRpcResponse> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#internal.delete(id);
        reject(new Error(`${method} timed out after ${Math.round(timeoutMs / 1000)}s`));
      }, timeoutMs);
      timer.unref();
      this.#internal.set(id, (response) => {
        clearTimeout(timer);
        resolve(response);
      });
      const refused = this.upstream.send({ jsonrpc: '2.0', id, method, params });
      if (refused) {
        const answer = this.#internal.get(id)!;
        this.#internal.delete(id);
        answer(errorResponse(id, ErrorCode.InternalError, refused));
      }
    });
  }

  #ensureInitialized(): Promise<InitializeResult> {
    if (this.#initResult && this.upstream.up) return Promise.resolve(this.#initResult);
    this.#init ??= this.#handshake().finally(() => {
      this.#init = null;
    });
    return this.#init;
  }

  async #handshake(): Promise<InitializeResult> {
    if (!this.upstream.up) await this.upstream.start();
    const capabilities: Record<string, unknown> = { sampling: {}, elicitation: {} };
    if (this.#options.offerRoots) capabilities.roots = { listChanged: true };
    const response = await this.#internalRequest('initialize', {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      capabilities,
      clientInfo: HARBOR_CLIENT_INFO,
    });
    if (response.error) throw new Error(response.error.message);
    if (!isJsonObject(response.result)) throw new Error('its initialize result is not an object');
    const result = response.result as unknown as InitializeResult;
    this.upstream.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.#initResult = result;
    this.#liveness.up();
    // "readOnly" caching needs the tools' annotations before the first call.
    // Tool annotations decide what is cacheable ("readOnly") and what a planned restart may replay.
    this.#internalRequest('tools/list', {}).then((r) => this.#learnTools(r.result), () => {});
    // Subscriptions survive an upstream restart.
    const uris = new Set<string>();
    for (const state of this.#sessions.values()) for (const uri of state.subscriptions) uris.add(uri);
    for (const uri of uris) this.#internalRequest('resources/subscribe', { uri }).catch(() => {});
    return result;
  }

  /** Pings through this router's id space (its answer is recognised like initialize's) while calls are overdue. */
  #startLiveness(): LivenessProbe {
    const server = this.#options.serverName;
    const log = this.#options.log;
    const seconds = (ms: number) => Math.round(ms / 1000);
    return startLivenessProbe(this.#options.liveness ?? {}, {
      // Map order is insertion order: the first call in flight is the oldest.
      oldestInFlightAt: () => this.#inFlight.values().next().value?.startedAt ?? null,
      ping: () => this.#internalRequest('ping', {}, this.#options.requestTimeoutMs),
      onUnresponsive: (ms) => log.warn({ server, inFlight: this.#inFlight.size }, `server is not answering (no reply to ping for ${seconds(ms)} s)`),
      onResponsive: (ms) => log.info({ server }, `server is answering again after ${seconds(ms)} s`),
      onStuck: (ms) => this.#options.onStuck?.(`not answering: no reply to ping for ${seconds(ms)} s`),
    });
  }

  #upstreamDown(reason: string, planned: boolean): void {
    this.#liveness.down();
    this.#initResult = null;
    for (const [, resolve] of this.#internal) resolve(errorResponse(null, ErrorCode.UpstreamUnavailable, reason));
    this.#internal.clear();
    this.#serverRequests.clear();
    this.#attribution.clear();
    this.#heldRequests.clear();
    const replay: Array<{ session: ClientPeer; request: JsonRpcRequest; cacheKey?: string }> = [];
    for (const gatewayId of [...this.#inFlight.keys()]) {
      const entry = this.#finish(gatewayId)!;
      // A restart Harbor chose should be invisible to calls that are safe to run twice; a crash is
      // not replayed (the call may be what crashed it).
      if (planned && !entry.replayed && this.#retrySafe(entry)) {
        replay.push({ session: entry.session, request: { ...entry.request, _replayed: true } as JsonRpcRequest, ...(entry.cacheKey ? { cacheKey: entry.cacheKey } : {}) });
        continue;
      }
      this.#reply(
        entry,
        errorResponse(entry.originalId, ErrorCode.UpstreamUnavailable, `server "${this.#options.serverName}" ${reason}; the call was not completed`),
      );
    }
    if (replay.length > 0) {
      this.#waiting.unshift(...replay);
      this.#options.log.info({ server: this.#options.serverName, calls: replay.length }, 'replaying retry-safe calls after a planned restart');
      this.#pump();
    }
  }

  /** Reads and calls of tools that declare themselves read-only or idempotent. */
  #retrySafe(entry: InFlight): boolean {
    if (entry.method === 'tools/call') return entry.tool !== undefined && this.#idempotentTools.has(entry.tool);
    return RETRY_SAFE_METHODS.has(entry.method);
  }

  #upstreamUp(): void {
    // A restart after a crash: re-initialise at once if anyone is waiting or connected.
    if (this.#closed || this.#initResult || this.#init) return;
    if (this.#sessions.size > 0 || this.#waiting.length > 0) {
      void this.#ensureInitialized().then(() => this.#pump(), (error: Error) => {
        this.#options.log.warn({ server: this.#options.serverName, err: error.message }, 're-initialise after restart failed');
      });
    }
  }
}

/** Methods that only read: replaying one after a planned restart changes nothing. */
const RETRY_SAFE_METHODS = new Set([
  'tools/list',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'prompts/list',
  'prompts/get',
  'completion/complete',
]);

const REQUIRED_CAPABILITY: Record<string, keyof ClientCapabilities> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/** The text a failed tool result carries (`isError: true`, text content parts), at most 2000 chars read; else undefined. */
function toolErrorText(result: unknown): string | undefined {
  const { isError, content } = (result ?? {}) as { isError?: unknown; content?: unknown };
  if (isError !== true || !Array.isArray(content)) return undefined;
  const text = content
    .filter((part): part is { type: 'text'; text: string } => (part as { type?: unknown })?.type === 'text' && typeof (part as { text?: unknown }).text === 'string')
    .map((part) => part.text)
    .join('\n')
    .slice(0, 2000)
    .trim();
  return text || undefined;
}
