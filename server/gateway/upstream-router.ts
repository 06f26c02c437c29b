import type { Logger } from '../logger.ts';
import { CachedCalls } from './cached-calls.ts';
import { answeredCallEvent, type CallEvent } from './call-event.ts';
import type { ClientCapabilities, ClientPeer } from './client-peer.ts';
import { IdSpace, type InFlightCall } from './id-space.ts';
import { answerSessionInitialize, InitHandshake, type InitializeResult } from './init-handshake.ts';
import { ErrorCode, errorResponse, isJsonObject, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.ts';
import type { LivenessOptions, LivenessProbe } from './liveness-probe.ts';
import { watchLiveness } from './liveness-watch.ts';
import { OwnRequests } from './own-requests.ts';
import { ReplayPolicy } from './replay-policy.ts';
import { attributionKey, RequestAttribution } from './request-attribution.ts';
import { routedParamsProblem } from './routed-params.ts';
import { ServerRequests } from './server-requests.ts';
import { Subscriptions } from './subscriptions.ts';
import type { ToolResultCache } from './tool-cache.ts';
import { routeUpstreamNotification, type NotificationRoutes } from './upstream-notifications.ts';
import { unreadableAnswerId } from './unreadable-answer.ts';
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
  readonly #routes: NotificationRoutes<ClientPeer>;
  readonly #replay = new ReplayPolicy();
  readonly #cached: CachedCalls;
  readonly #liveness: LivenessProbe;
  #closed = false;

  constructor(upstream: Upstream, options: RouterOptions) {
    this.upstream = upstream;
    this.#options = options;
    const { serverName, log, serial } = options;
    const calls = (this.#calls = new IdSpace({ timeoutMs: options.requestTimeoutMs, onTimeout: (id) => this.#timeout(id), onFinished: (id) => this.#attribution.finished(id) }));
    this.#own = new OwnRequests({ nextId: () => calls.next(), send: (message) => upstream.send(message) });
    this.#init = new InitHandshake({ upstream, offerRoots: options.offerRoots, request: (m, p) => this.#own.send(m, p), onInitialized: () => this.#initialized() });
    // Long enough for the other callers' ordinary calls to finish; short of the call timeout.
    const holdMs = Math.min(30_000, options.requestTimeoutMs);
    this.#attribution = new RequestAttribution({ holdMs, onDecided: (id, decision) => this.#serverRequests.decided(id, decision) });
    this.#waiting = new WaitingCalls({
      serial,
      inFlight: () => calls.size,
      mustWait: (w) => this.#attribution.mustWait(attributionKey(w.request.method, w.request.params)),
      ready: () => this.#init.ready,
      initialise: () => this.#init.ensure(),
      closed: () => this.#closed,
      start: (w) => this.#forward(w),
      fail: ({ session, request }, why) => session.deliver(errorResponse(request.id, ErrorCode.UpstreamUnavailable, `server "${serverName}" is not available: ${why}`), request.id),
    });
    const sessions = this.#sessions;
    this.#serverRequests = new ServerRequests({ serverName, log, attribution: this.#attribution, calls, sessions, send: (m) => this.#sendUpstream(m) });
    this.#routes = { serverName, log, sessions, calls, subscriptions: this.#subscriptions, serverRequests: this.#serverRequests };
    upstream.onMessage = (message) => this.#fromUpstream(message);
    upstream.onUnreadable = (line) => this.#unreadable(line);
    upstream.onDown = (reason, planned) => this.#upstreamDown(reason, planned);
    upstream.onUp = () => this.#upstreamUp();
    this.#cached = new CachedCalls({ cache: options.toolCache, onCallDone: options.onCallDone });
    const ping = () => this.#own.send('ping', {}, options.requestTimeoutMs);
    this.#liveness = watchLiveness(options.liveness ?? {}, { serverName, log, calls, ping, onStuck: options.onStuck });
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
    // hasCalls first: a modern call detaches once per call, nearly always with nothing in flight (no array then).
    if (this.#calls.hasCalls(session)) {
      for (const gatewayId of this.#calls.callsOf(session)) {
        this.#calls.finish(gatewayId);
        this.#sendUpstream({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: gatewayId, reason: 'client session ended' } });
      }
    }
    this.#serverRequests.sessionEnded(session);
    for (const uri of this.#subscriptions.release(session)) this.#own.send('resources/unsubscribe', { uri }).catch(() => {});
    this.#waiting.pump();
  }

  /** The upstream's initialize result (cached; initialises the upstream first if needed): server/discover republishes it. */
  initializeResult(): Promise<InitializeResult> {
    return this.#init.ensure();
  }

  /** The upstream's initialize result while it is initialised and up, else null: no promise per modern call. */
  initialized(): InitializeResult | null {
    return this.#init.result;
  }

  /** Answers a client's initialize from the upstream's own (cached) initialize result. */
  async initialize(session: ClientPeer, request: JsonRpcRequest): Promise<JsonRpcResponse> {
    const declared = request.params?.capabilities;
    session.capabilities = isJsonObject(declared) ? (declared as ClientCapabilities) : {};
    this.attach(session);
    const response = await answerSessionInitialize(this.#init, request, this.#options.serverName);
    if (response.error) this.detach(session);
    return response;
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
    const key = this.#cached.keyOf(request);
    if (key) void this.#fromCache(session, request, key);
    else this.#waiting.push({ session, request });
    return undefined;
  }

  /** A cacheable call: answered from the cache, or forwarded and its answer kept. */
  async #fromCache(session: ClientPeer, request: JsonRpcRequest, key: string): Promise<void> {
    const done = await this.#cached.answer(session, request, key, () => this.#sessions.has(session));
    if (!done) this.#waiting.push({ session, request, cacheKey: key });
  }

  #clientNotification(session: ClientPeer, message: JsonRpcNotification): void {
    if (message.method === 'notifications/initialized') return; // Harbor initialised the upstream itself
    // Anything else passes through: progress on a server→client request carries the upstream's own token.
    if (message.method !== 'notifications/cancelled') return void this.#sendUpstream(message);
    const requestId = message.params?.requestId as JsonRpcId | undefined;
    if (requestId === undefined || this.#waiting.cancel(session, requestId)) return;
    const gatewayId = this.#calls.gatewayId(session, requestId);
    if (gatewayId === undefined) return;
    this.#calls.finish(gatewayId);
    this.#sendUpstream({ ...message, params: { ...message.params, requestId: gatewayId } });
    this.#waiting.pump();
  }

  #forward({ session, request, cacheKey, replayed }: WaitingCall<ClientPeer>): void {
    if (!this.#sessions.has(session)) return;
    const forwarded = this.#calls.open(session, request, cacheKey ?? null, replayed === true);
    this.#attribution.started(forwarded.id, session, attributionKey(request.method, request.params));
    const refused = this.#sendUpstream(forwarded);
    const entry = refused ? this.#calls.finish(forwarded.id) : undefined;
    if (entry) this.#reply(entry, errorResponse(request.id, ErrorCode.InvalidParams, `Harbor did not forward this request: ${refused}`));
  }

  #timeout(gatewayId: number): void {
    const entry = this.#calls.finish(gatewayId);
    if (!entry) return;
    const seconds = Math.round(this.#options.requestTimeoutMs / 1000);
    this.#sendUpstream({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: gatewayId, reason: `timed out after ${seconds}s` } });
    this.#reply(entry, errorResponse(entry.originalId, ErrorCode.UpstreamUnavailable, `server "${this.#options.serverName}" did not answer within ${seconds}s`));
    this.#waiting.pump();
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
    const entry = this.#calls.finish(message.id);
    if (!entry) return; // cancelled or timed out already
    if (!message.error && entry.method === 'tools/list') this.#learnTools(message.result);
    if (!message.error && entry.cacheKey) this.#cached.keep(entry.cacheKey, message.result);
    this.#reply(entry, { ...message, id: entry.originalId });
    this.#waiting.pump();
  }

  /** A line the upstream refused (logged there): the request it answered, if known (unreadable-answer.ts), fails at once. */
  #unreadable(line: UnreadableLine): void {
    const id = unreadableAnswerId(line, [...this.#calls.ids(), ...this.#own.ids()]);
    if (id === undefined) return;
    const why = `server "${this.#options.serverName}" answered with ${line.reason}; Harbor dropped it`;
    if (this.#own.settle(id, errorResponse(id, ErrorCode.InternalError, why))) return;
    const entry = this.#calls.finish(id);
    if (!entry) return;
    this.#reply(entry, errorResponse(entry.originalId, ErrorCode.InternalError, why));
    this.#waiting.pump();
  }

  #learnTools(result: unknown): void {
    this.#cached.learn(result);
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

  #upstreamDown(reason: string, planned: boolean): void {
    this.#liveness.down();
    this.#init.reset();
    this.#own.failAll(reason);
    this.#serverRequests.clear();
    this.#attribution.clear();
    const replay: WaitingCall<ClientPeer>[] = [];
    for (const gatewayId of this.#calls.ids()) {
      const entry = this.#calls.finish(gatewayId)!;
      if (this.#replay.replays(entry, planned)) {
        replay.push({ session: entry.session, request: entry.request, replayed: true, ...(entry.cacheKey ? { cacheKey: entry.cacheKey } : {}) });
      } else {
        this.#reply(entry, errorResponse(entry.originalId, ErrorCode.UpstreamUnavailable, `server "${this.#options.serverName}" ${reason}; the call was not completed`));
      }
    }
    if (replay.length === 0) return;
    this.#options.log.info({ server: this.#options.serverName, calls: replay.length }, 'replaying retry-safe calls after a planned restart');
    this.#waiting.putFirst(replay);
  }

  #upstreamUp(): void {
    // A restart after a crash: re-initialise at once if anyone is waiting or connected.
    if (this.#closed || this.#init.begun || (this.#sessions.size === 0 && this.#waiting.size === 0)) return;
    void this.#init.ensure().then(() => this.#waiting.pump(), (error: Error) => {
      this.#options.log.warn({ server: this.#options.serverName, err: error.message }, 're-initialise after restart failed');
    });
  }
}
