import type { Logger } from '../logger.ts';
import { answeredCallEvent, type CallEvent } from './call-event.ts';
import type { ClientCapabilities, ClientPeer } from './client-peer.ts';
import { IdSpace, type InFlightCall } from './id-space.ts';
import { InitHandshake, sessionInitializeResult, type InitializeResult } from './init-handshake.ts';
import { ErrorCode, errorResponse, isJsonObject, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.ts';
import { startLivenessProbe, type LivenessOptions, type LivenessProbe } from './liveness-probe.ts';
import { OwnRequests } from './own-requests.ts';
import { ReplayPolicy } from './replay-policy.ts';
import { attributionKey, RequestAttribution } from './request-attribution.ts';
import { routedParamsProblem } from './routed-params.ts';
import { ServerRequests } from './server-requests.ts';
import { Subscriptions } from './subscriptions.ts';
import type { ToolResultCache } from './tool-cache.ts';
import { routeUpstreamNotification } from './upstream-notifications.ts';
import type { UnreadableLine } from './upstream-line.ts';
import type { Upstream } from './upstream.ts';
import { WaitingCalls, type WaitingCall } from './waiting-calls.ts';

export type { CallEvent } from './call-event.ts';

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

/**
 * Multiplexes many client sessions onto one upstream MCP server (DESIGN.md section 3), composed of one
 * part per job: the id space (ids, progress tokens, timeouts), Harbor's own requests, the init
 * handshake, the waiting calls (serial mode, the interactive lane), subscriptions, server→client
 * requests with their attribution, the replay policy and the liveness probe.
 */
export class UpstreamRouter {
  readonly upstream: Upstream;
  readonly #options: RouterOptions;
  readonly #sessions = new Set<ClientPeer>();
  readonly #calls: IdSpace<ClientPeer>;
  readonly #own: OwnRequests;
  readonly #init: InitHandshake;
  readonly #waiting: WaitingCalls<ClientPeer>;
  readonly #subscriptions = new Subscriptions<ClientPeer>();
  readonly #attribution: RequestAttribution<ClientPeer>;
  readonly #serverRequests: ServerRequests<ClientPeer>;
  readonly #replay = new ReplayPolicy();
  readonly #liveness: LivenessProbe;
  #closed = false;

  constructor(upstream: Upstream, options: RouterOptions) {
    this.upstream = upstream;
    this.#options = options;
    const { serverName, log, serial } = options;
    this.#calls = new IdSpace({ timeoutMs: options.requestTimeoutMs, onTimeout: (id) => this.#timeout(id) });
    const nextId = () => this.#calls.next();
    this.#own = new OwnRequests({ nextId, send: (message) => upstream.send(message) });
    this.#init = new InitHandshake({ upstream, offerRoots: options.offerRoots, request: (m, p) => this.#own.send(m, p), onInitialized: () => this.#initialized() });
    // Long enough for the other callers' ordinary calls to finish; short of the call timeout.
    const holdMs = Math.min(30_000, options.requestTimeoutMs);
    this.#attribution = new RequestAttribution({ holdMs, onDecided: (id, decision) => this.#serverRequests.decided(id, decision) });
    this.#waiting = new WaitingCalls({ serial, inFlight: () => this.#calls.size, mustWait: (w) => this.#attribution.mustWait(attributionKey(w.request.method, w.request.params)) });
    const sessions = this.#sessions;
    const onlyPeer = () => (sessions.size === 1 ? sessions.values().next().value : undefined);
    const clientIdOf = (callId: number) => this.#calls.get(callId)?.originalId;
    this.#serverRequests = new ServerRequests({ serverName, log, attribution: this.#attribution, nextId, send: (m) => this.#sendUpstream(m), isAttached: (p) => sessions.has(p), onlyPeer, clientIdOf });
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
    return this.#calls.size;
  }

  /** How long the upstream has left a ping unanswered while calls wait, or null when it is not unresponsive. */
  get unresponsiveForMs(): number | null {
    return this.#liveness.silentMs();
  }

  /** Whether the tool declared readOnlyHint or idempotentHint in the last tools/list (upstream-pool.ts retries those). */
  retrySafeTool(tool: string): boolean {
    return this.#replay.retrySafeTool(tool);
  }

  attach(session: ClientPeer): void {
    this.#sessions.add(session);
  }

  /** Forgets a session: its calls in flight are cancelled upstream, its subscriptions released. */
  detach(session: ClientPeer): void {
    if (!this.#sessions.delete(session)) return;
    this.#waiting.dropSession(session);
    for (const gatewayId of this.#calls.callsOf(session)) {
      this.#finish(gatewayId);
      this.#sendUpstream({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: gatewayId, reason: 'client session ended' } });
    }
    this.#serverRequests.sessionEnded(session);
    for (const uri of this.#subscriptions.release(session)) this.#own.send('resources/unsubscribe', { uri }).catch(() => {});
    this.#pump();
  }

  /** The upstream's initialize result (cached; initialises the upstream first if needed): server/discover republishes it. */
  initializeResult(): Promise<InitializeResult> {
    return this.#init.ensure();
  }

  /** Answers a client's initialize from the upstream's own (cached) initialize result. */
  async initialize(session: ClientPeer, request: JsonRpcRequest): Promise<JsonRpcResponse> {
    const params = request.params ?? {};
    session.capabilities = isJsonObject(params.capabilities) ? (params.capabilities as ClientCapabilities) : {};
    this.attach(session);
    try {
      return { jsonrpc: '2.0', id: request.id, result: sessionInitializeResult(await this.#init.ensure(), params.protocolVersion) };
    } catch (error) {
      this.detach(session);
      return errorResponse(request.id, ErrorCode.UpstreamUnavailable, `server "${this.#options.serverName}" did not initialise: ${(error as Error).message}`);
    }
  }

  /** A message from a client session (anything but initialize). */
  fromClient(session: ClientPeer, message: JsonRpcMessage): void {
    const attached = this.#sessions.has(session);
    if (isRequest(message)) {
      const refusal = !attached ? errorResponse(message.id, ErrorCode.InvalidRequest, 'session is not initialised') : this.#clientRequest(session, message);
      if (refusal) session.deliver(refusal, message.id);
    } else if (!attached) return;
    else if (isResponse(message)) this.#serverRequests.answered(session, message);
    else this.#clientNotification(session, message as JsonRpcNotification);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#liveness.stop();
    for (const session of [...this.#sessions]) this.detach(session);
    await this.upstream.close();
  }

  /** Answers what the router answers itself (returned), or lines the request up for the upstream. */
  #clientRequest(session: ClientPeer, request: JsonRpcRequest): JsonRpcResponse | undefined {
    const problem = routedParamsProblem(request);
    if (problem) return errorResponse(request.id, ErrorCode.InvalidParams, problem);
    const { method, params } = request;
    if (method === 'ping') return { jsonrpc: '2.0', id: request.id, result: {} };
    if (method === 'resources/unsubscribe' && this.#subscriptions.remove(session, params!.uri as string)) return { jsonrpc: '2.0', id: request.id, result: {} };
    if (method === 'resources/subscribe') this.#subscriptions.add(session, params!.uri as string);
    const cache = this.#options.toolCache;
    const tool = method === 'tools/call' && cache?.cacheable(params!.name as string) ? (params!.name as string) : undefined;
    const key = tool ? cache!.key(tool, params?.arguments) : null;
    if (key) void this.#fromCache(session, request, tool!, key);
    else this.#enqueue({ session, request });
    return undefined;
  }

  /** A cacheable call: answered from the cache, or forwarded and its answer kept. */
  async #fromCache(session: ClientPeer, request: JsonRpcRequest, tool: string, key: string): Promise<void> {
    const started = performance.now();
    const hit = await this.#options.toolCache!.get(key);
    if (!this.#sessions.has(session)) return;
    if (hit === undefined) return this.#enqueue({ session, request, cacheKey: key });
    session.deliver({ jsonrpc: '2.0', id: request.id, result: hit }, request.id);
    this.#options.onCallDone?.({ session, method: request.method, tool, durationMs: performance.now() - started, error: undefined, toolError: false, cached: true });
  }

  #clientNotification(session: ClientPeer, message: JsonRpcNotification): void {
    if (message.method === 'notifications/initialized') return; // Harbor initialised the upstream itself
    // Anything else passes through: progress on a server→client request carries the upstream's own token.
    if (message.method !== 'notifications/cancelled') return void this.#sendUpstream(message);
    const requestId = message.params?.requestId as JsonRpcId | undefined;
    if (requestId === undefined || this.#waiting.cancel(session, requestId)) return;
    const gatewayId = this.#calls.gatewayId(session, requestId);
    if (gatewayId === undefined) return;
    this.#finish(gatewayId);
    this.#sendUpstream({ ...message, params: { ...message.params, requestId: gatewayId } });
    this.#pump();
  }

  #enqueue(call: WaitingCall<ClientPeer>): void {
    this.#waiting.push(call);
    this.#pump();
  }

  /** Sends waiting requests upstream once it is initialised (waiting-calls.ts decides which may go). */
  #pump(): void {
    if (this.#init.ready) return this.#waiting.release((w) => this.#forward(w));
    if (this.#waiting.size === 0 || this.#closed) return;
    void this.#init.ensure().then(() => this.#pump(), (error: Error) => this.#failWaiting(error.message));
  }

  #failWaiting(why: string): void {
    for (const { session, request } of this.#waiting.takeAll()) {
      session.deliver(errorResponse(request.id, ErrorCode.UpstreamUnavailable, `server "${this.#options.serverName}" is not available: ${why}`), request.id);
    }
  }

  #forward({ session, request, cacheKey, replayed }: WaitingCall<ClientPeer>): void {
    if (!this.#sessions.has(session)) return;
    const forwarded = this.#calls.open(session, request, cacheKey ?? null, replayed === true);
    this.#attribution.started(forwarded.id as number, session, attributionKey(request.method, request.params));
    const refused = this.#sendUpstream(forwarded);
    const entry = refused ? this.#finish(forwarded.id as number) : undefined;
    if (entry) this.#reply(entry, errorResponse(request.id, ErrorCode.InvalidParams, `Harbor did not forward this request: ${refused}`));
  }

  #timeout(gatewayId: number): void {
    const entry = this.#finish(gatewayId);
    if (!entry) return;
    const seconds = Math.round(this.#options.requestTimeoutMs / 1000);
    this.#sendUpstream({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: gatewayId, reason: `timed out after ${seconds}s` } });
    this.#reply(entry, errorResponse(entry.originalId, ErrorCode.UpstreamUnavailable, `server "${this.#options.serverName}" did not answer within ${seconds}s`));
    this.#pump();
  }

  /** Removes a call from the books (and from the attribution's); returns it if it was still in flight. */
  #finish(gatewayId: number): InFlightCall<ClientPeer> | undefined {
    const entry = this.#calls.finish(gatewayId);
    if (entry) this.#attribution.finished(gatewayId);
    return entry;
  }

  #reply(entry: InFlightCall<ClientPeer>, response: JsonRpcResponse): void {
    entry.session.deliver(response, entry.originalId);
    this.#options.onCallDone?.(answeredCallEvent(entry, response, performance.now() - entry.startedAt));
  }

  #fromUpstream(message: JsonRpcMessage): void {
    this.#liveness.heard();
    if (isRequest(message)) return this.#serverRequests.arrived(message);
    if (!isResponse(message)) return routeUpstreamNotification(message as JsonRpcNotification, this.#routes);
    if (typeof message.id !== 'number' || this.#own.settle(message.id, message)) return;
    const entry = this.#finish(message.id);
    if (!entry) return; // cancelled or timed out already
    if (!message.error && entry.method === 'tools/list') this.#learnTools(message.result);
    if (!message.error && entry.cacheKey) this.#options.toolCache?.store(entry.cacheKey, message.result);
    this.#reply(entry, { ...message, id: entry.originalId });
    this.#pump();
  }

  get #routes() {
    const { serverName, log } = this.#options;
    return { serverName, log, sessions: this.#sessions, calls: this.#calls, subscriptions: this.#subscriptions, serverRequests: this.#serverRequests };
  }

  /**
   * A line the upstream refused (logged there). When it answered a call, that caller hears at once
   * instead of at the timeout. An answer whose id could not be read is attributed only when exactly
   * one call is in flight (then it can only be that one); with several, failing any would be a guess
   * that could fail the wrong teammate's call, so they keep waiting for their own answers or timeouts.
   */
  #unreadable(line: UnreadableLine): void {
    let id = typeof line.id === 'number' ? line.id : undefined;
    if (id === undefined && line.id === undefined && line.response && this.#calls.size + this.#own.size === 1) {
      id = this.#calls.ids()[0] ?? this.#own.firstId();
    }
    if (id === undefined) return;
    const why = `server "${this.#options.serverName}" answered with ${line.reason}; Harbor dropped it`;
    if (this.#own.settle(id, errorResponse(id, ErrorCode.InternalError, why))) return;
    const entry = this.#finish(id);
    if (!entry) return;
    this.#reply(entry, errorResponse(entry.originalId, ErrorCode.InternalError, why));
    this.#pump();
  }

  #learnTools(result: unknown): void {
    this.#options.toolCache?.learn(result);
    this.#replay.learn(result);
  }

  /** Returns why the message was refused (see Upstream.send), if it was. */
  #sendUpstream(message: JsonRpcMessage): string | undefined {
    return this.upstream.up ? this.upstream.send(message) : undefined;
  }

  /** A fresh upstream answered initialize. */
  #initialized(): void {
    this.#liveness.up();
    // Tool annotations decide what is cacheable ("readOnly", before the first call) and what a planned restart may replay.
    this.#own.send('tools/list', {}).then((r) => this.#learnTools(r.result), () => {});
    // Subscriptions survive an upstream restart.
    for (const uri of this.#subscriptions.uris()) this.#own.send('resources/subscribe', { uri }).catch(() => {});
  }

  /** Pings through this router's id space (its answer is recognised like initialize's) while calls are overdue. */
  #startLiveness(): LivenessProbe {
    const { serverName: server, log } = this.#options;
    const seconds = (ms: number) => Math.round(ms / 1000);
    return startLivenessProbe(this.#options.liveness ?? {}, {
      oldestInFlightAt: () => this.#calls.oldestStartedAt(),
      ping: () => this.#own.send('ping', {}, this.#options.requestTimeoutMs),
      onUnresponsive: (ms) => log.warn({ server, inFlight: this.#calls.size }, `server is not answering (no reply to ping for ${seconds(ms)} s)`),
      onResponsive: (ms) => log.info({ server }, `server is answering again after ${seconds(ms)} s`),
      onStuck: (ms) => this.#options.onStuck?.(`not answering: no reply to ping for ${seconds(ms)} s`),
    });
  }

  #upstreamDown(reason: string, planned: boolean): void {
    this.#liveness.down();
    this.#init.reset();
    this.#own.failAll(reason);
    this.#serverRequests.clear();
    this.#attribution.clear();
    const replay: WaitingCall<ClientPeer>[] = [];
    for (const gatewayId of this.#calls.ids()) {
      const entry = this.#finish(gatewayId)!;
      if (this.#replay.replays(entry, planned)) {
        replay.push({ session: entry.session, request: entry.request, replayed: true, ...(entry.cacheKey ? { cacheKey: entry.cacheKey } : {}) });
      } else {
        this.#reply(entry, errorResponse(entry.originalId, ErrorCode.UpstreamUnavailable, `server "${this.#options.serverName}" ${reason}; the call was not completed`));
      }
    }
    if (replay.length === 0) return;
    this.#waiting.putFirst(replay);
    this.#options.log.info({ server: this.#options.serverName, calls: replay.length }, 'replaying retry-safe calls after a planned restart');
    this.#pump();
  }

  #upstreamUp(): void {
    // A restart after a crash: re-initialise at once if anyone is waiting or connected.
    if (this.#closed || this.#init.begun || (this.#sessions.size === 0 && this.#waiting.size === 0)) return;
    void this.#init.ensure().then(() => this.#pump(), (error: Error) => {
      this.#options.log.warn({ server: this.#options.serverName, err: error.message }, 're-initialise after restart failed');
    });
  }
}
