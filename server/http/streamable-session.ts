import type { ServerResponse } from 'node:http';
import type { ConnectedVia } from '../auth/connected-via.ts';
import type { ClientCapabilities } from '../gateway/client-peer.ts';
import type { Logger } from '../logger.ts';
import type { HostSession } from './session-registry.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import { isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from '../gateway/jsonrpc.ts';
import { Heartbeat, SseStream } from './sse-stream.ts';

export type ResponseMode = 'auto' | 'json' | 'sse';

export interface SessionLimits {
  /** Events kept per session for `Last-Event-ID` resumption. */
  maxStoredEvents: number;
  maxStoredBytes: number;
  /** In auto mode: a call still unanswered after this long switches to an SSE stream (first byte out). */
  sseAfterMs: number;
  /** Unsent bytes a stream may hold before its reader counts as gone and it is dropped (sse-stream.ts). */
  maxStreamBufferBytes: number;
}

interface StoredEvent {
  streamId: string;
  seq: number;
  data: string;
}

/**
 * One Streamable HTTP session: the client's view of a hosted server. Messages for a request go on that
 * request's POST stream (or JSON body); everything else on the standalone GET stream. Every SSE event
 * is kept in a bounded store so a client that lost a stream can resume it with `Last-Event-ID`.
 */
export class StreamableSession implements HostSession {
  readonly id: string;
  readonly transport = 'streamable-http' as const;
  readonly viaTunnel: boolean;
  readonly teammate: string;
  readonly via: ConnectedVia;
  readonly server: HostedServer;
  readonly protocolVersion: string;
  capabilities: ClientCapabilities = {};
  lastActivity = Date.now();
  closed = false;
  readonly #heartbeat: Heartbeat;
  readonly #limits: SessionLimits;
  readonly #log: Logger | undefined;
  readonly #exchanges = new Map<JsonRpcId, Exchange>();
  #standalone: SseStream | null = null;
  #standaloneId = '';
  #streamCounter = 0;
  readonly #events: StoredEvent[] = [];
  #eventBytes = 0;
  readonly #seqs = new Map<string, number>();
  readonly #streamLeft = new Set<string>();
  /** Messages with no stream to go on, kept (bounded) until the client opens its GET stream. */
  readonly #undelivered: JsonRpcMessage[] = [];
  responseMode: ResponseMode;

  constructor(options: {
    id: string;
    teammate: string;
    via: ConnectedVia;
    viaTunnel: boolean;
    server: HostedServer;
    protocolVersion: string;
    heartbeat: Heartbeat;
    limits: SessionLimits;
    responseMode: ResponseMode;
    log?: Logger;
  }) {
    this.id = options.id;
    this.teammate = options.teammate;
    this.via = options.via;
    this.viaTunnel = options.viaTunnel;
    this.server = options.server;
    this.protocolVersion = options.protocolVersion;
    this.#heartbeat = options.heartbeat;
    this.#limits = options.limits;
    this.#log = options.log?.child({ session: options.id, teammate: options.teammate, server: options.server.name });
    this.responseMode = options.responseMode;
  }

  get heartbeat(): Heartbeat {
    return this.#heartbeat;
  }

  /** Requests waiting for their answer (JSON or streamed): such a session is not idle. */
  get inFlight(): number {
    return this.#exchanges.size;
  }

  get openStreams(): number {
    let n = this.#standalone && !this.#standalone.closed ? 1 : 0;
    for (const ex of new Set(this.#exchanges.values())) if (ex.streaming) n++;
    return n;
  }

  deliver(message: JsonRpcMessage, relatedRequestId?: JsonRpcId): void {
    if (this.closed) return;
    this.lastActivity = Date.now();
    if (isResponse(message)) {
      const exchange = message.id === null ? undefined : this.#exchanges.get(message.id);
      if (exchange) {
        this.#exchanges.delete(message.id!);
        exchange.respond(message);
      }
      // With no exchange the client hung up on a JSON answer: the spec allows a response only on
      // its request's stream, never on the standalone one, so it is dropped.
      return;
    } else if (relatedRequestId !== undefined) {
      const exchange = this.#exchanges.get(relatedRequestId);
      if (exchange?.stream(message)) return;
    }
    this.#toStandalone(message);
  }

  /** Takes a POST carrying requests; answers it as JSON or as an SSE stream as the session's mode says. */
  handlePost(res: ServerResponse, requestIds: JsonRpcId[], batch: boolean): Exchange {
    const exchange = new Exchange(this, res, requestIds, batch);
    for (const id of requestIds) this.#exchanges.set(id, exchange);
    res.once('close', () => exchange.clientGone());
    if (this.responseMode === 'sse') exchange.startStream();
    else exchange.armTimer(this.responseMode === 'json' ? this.#heartbeat.intervalMs : this.#limits.sseAfterMs);
    return exchange;
  }

  /** The GET stream: a fresh standalone stream, or the resumption of a stream the client lost. */
  handleGet(res: ServerResponse, lastEventId: string | undefined): { status: number; message: string } | null {
    if (lastEventId) {
      const [streamId, seqText] = splitEventId(lastEventId);
      const after = Number(seqText);
      if (!this.#seqs.has(streamId) || !Number.isInteger(after)) {
        return { status: 400, message: 'Last-Event-ID does not name an event of this session' };
      }
      const stream = this.openStream(res, undefined);
      for (const event of this.#events) {
        if (event.streamId === streamId && event.seq > after) stream.send(event.data, { id: `${event.streamId}_${event.seq}` });
      }
      const exchange = [...new Set(this.#exchanges.values())].find((e) => e.streamId === streamId);
      if (exchange) exchange.attach(stream);
      else if (streamId === this.#standaloneId) this.#adoptStandalone(stream, streamId);
      else stream.end();
      return null;
    }
    if (this.#standalone && !this.#standalone.closed) {
      return { status: 409, message: 'this session already has an open GET stream' };
    }
    const streamId = this.nextStreamId();
    this.registerStream(streamId);
    this.#adoptStandalone(this.openStream(res, this.primingId(streamId)), streamId);
    const backlog = this.#undelivered.splice(0);
    for (const message of backlog) this.#toStandalone(message);
    return null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#standalone?.end();
    for (const exchange of new Set(this.#exchanges.values())) exchange.abandon();
    this.#exchanges.clear();
    this.#events.length = 0;
  }

  nextStreamId(): string {
    return String(++this.#streamCounter);
  }

  /** A stream is resumable from its priming event on: remember its sequence from then. */
  registerStream(streamId: string): void {
    if (!this.#seqs.has(streamId)) this.#seqs.set(streamId, 0);
  }

  /**
   * Forgets a finished stream once none of its events is stored any more, so a long session does
   * not keep an entry per request it ever streamed.
   */
  streamEnded(streamId: string): void {
    if (streamId === this.#standaloneId) return;
    if (!this.#events.some((e) => e.streamId === streamId)) this.#seqs.delete(streamId);
  }

  /** Streams this session can still resume (for tests and status). */
  get resumableStreams(): number {
    return this.#seqs.size;
  }

  /** 2025-11-25 clients resume from a priming event id; older ones only get a comment. */
  primingId(streamId: string): string | undefined {
    return this.protocolVersion >= '2025-11-25' ? `${streamId}_0` : undefined;
  }

  openStream(res: ServerResponse, primingEventId: string | undefined): SseStream {
    return new SseStream(res, {
      heartbeat: this.#heartbeat,
      maxBufferedBytes: this.#limits.maxStreamBufferBytes,
      log: this.#log,
      headers: { 'mcp-session-id': this.id },
      primingEventId,
    });
  }

  /** Writes an event to a stream (if any) and keeps it for resumption. */
  emit(streamId: string, stream: SseStream | null, message: JsonRpcMessage): void {
    const seq = (this.#seqs.get(streamId) ?? 0) + 1;
    this.#seqs.set(streamId, seq);
    const data = JSON.stringify(message);
    this.#store({ streamId, seq, data });
    stream?.send(data, { id: `${streamId}_${seq}` });
  }

  forgetExchange(exchange: Exchange): void {
    for (const id of exchange.requestIds) if (this.#exchanges.get(id) === exchange) this.#exchanges.delete(id);
  }

  #store(event: StoredEvent): void {
    this.#events.push(event);
    this.#eventBytes += event.data.length;
    while (this.#events.length > this.#limits.maxStoredEvents || this.#eventBytes > this.#limits.maxStoredBytes) {
      const dropped = this.#events.shift()!;
      this.#eventBytes -= dropped.data.length;
      if (!this.#streamActive(dropped.streamId)) this.streamEnded(dropped.streamId);
    }
  }

  #streamActive(streamId: string): boolean {
    if (streamId === this.#standaloneId) return true;
    for (const exchange of this.#exchanges.values()) if (exchange.streamId === streamId) return true;
    return false;
  }

  #adoptStandalone(stream: SseStream, streamId: string): void {
    this.#standalone = stream;
    this.#standaloneId = streamId;
    stream.onClose = () => {
      if (this.#standalone === stream) this.#standalone = null;
    };
  }

  #toStandalone(message: JsonRpcMessage): void {
    if (this.#standalone && !this.#standalone.closed) {
      this.emit(this.#standaloneId, this.#standalone, message);
      return;
    }
    this.#undelivered.push(message);
    if (this.#undelivered.length > this.#limits.maxStoredEvents) this.#undelivered.shift();
  }
}

function splitEventId(id: string): [string, string] {
  const at = id.lastIndexOf('_');
  return at < 0 ? [id, ''] : [id.slice(0, at), id.slice(at + 1)];
}

/**
 * One POST with requests in it, until every request is answered. In auto mode the answer is a plain
 * JSON body when it comes quickly; once a related message arrives or the call takes long, it becomes
 * an SSE stream (first byte at once, heartbeats after).
 */
export class Exchange {
  readonly requestIds: JsonRpcId[];
  readonly streamId: string;
  readonly #session: StreamableSession;
  readonly #res: ServerResponse;
  readonly #batch: boolean;
  readonly #pending: Set<JsonRpcId>;
  readonly #answers: JsonRpcResponse[] = [];
  #stream: SseStream | null = null;
  #sse = false;
  #clientGone = false;
  #done = false;
  #timer: NodeJS.Timeout | null = null;
  #stopJsonBeat: (() => void) | null = null;

  constructor(session: StreamableSession, res: ServerResponse, requestIds: JsonRpcId[], batch: boolean) {
    this.#session = session;
    this.#res = res;
    this.requestIds = requestIds;
    this.#batch = batch;
    this.#pending = new Set(requestIds);
    this.streamId = session.nextStreamId();
  }

  get streaming(): boolean {
    return this.#stream !== null && !this.#stream.closed;
  }

  armTimer(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#done) return;
      if (this.#session.responseMode === 'json') this.#startJsonHeartbeat();
      else this.startStream();
    }, ms);
    this.#timer.unref();
  }

  startStream(): void {
    if (this.#sse || this.#clientGone || this.#res.headersSent) return;
    this.#sse = true;
    this.#clearTimer();
    this.#session.registerStream(this.streamId);
    this.#stream = this.#session.openStream(this.#res, this.#session.primingId(this.streamId));
    for (const answer of this.#answers.splice(0)) this.#session.emit(this.streamId, this.#stream, answer);
  }

  /** A message related to one of this POST's requests; false if it has to go elsewhere. */
  stream(message: JsonRpcMessage): boolean {
    if (this.#done) return false;
    if (!this.#sse) {
      if (this.#session.responseMode === 'json' || this.#res.headersSent || this.#clientGone) return false;
      this.startStream();
    }
    this.#session.emit(this.streamId, this.#stream, message);
    return true;
  }

  respond(response: JsonRpcResponse): void {
    this.#pending.delete(response.id!);
    if (this.#sse) {
      this.#session.emit(this.streamId, this.#stream, response);
      if (this.#pending.size === 0) this.#finish();
      return;
    }
    this.#answers.push(response);
    if (this.#pending.size > 0) return;
    this.#finish();
    if (this.#clientGone) return;
    const body = JSON.stringify(this.#batch ? this.#answers : this.#answers[0]);
    if (this.#res.headersSent) this.#res.end(body);
    else {
      this.#res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'mcp-session-id': this.#session.id,
      });
      this.#res.end(body);
    }
  }

  /** A resumed GET stream takes over from a POST stream the client lost. */
  attach(stream: SseStream): void {
    this.#stream = stream;
    this.#sse = true;
  }

  clientGone(): void {
    if (this.#done) return;
    this.#clientGone = true;
    this.#stopJsonBeat?.();
    // SSE: keep the exchange so answers are stored for Last-Event-ID; JSON: nothing can carry them.
    if (!this.#sse) {
      this.#finish();
      this.#session.forgetExchange(this);
    } else this.#stream = null;
  }

  abandon(): void {
    this.#finish();
    if (!this.#res.headersSent) {
      this.#res.writeHead(404, { 'Content-Type': 'application/json' });
      this.#res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'session ended' } }));
    } else this.#res.end();
  }

  #finish(): void {
    this.#done = true;
    this.#clearTimer();
    this.#stopJsonBeat?.();
    this.#stream?.end();
    if (this.#sse) this.#session.streamEnded(this.streamId);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** JSON mode (quick tunnels): leading whitespace is valid JSON and keeps a slow answer's connection alive. */
  #startJsonHeartbeat(): void {
    if (this.#clientGone || this.#res.headersSent) return;
    this.#res.writeHead(200, { 'Content-Type': 'application/json', 'mcp-session-id': this.#session.id });
    this.#res.write('\n');
    this.#stopJsonBeat = this.#session.heartbeat.add(() => this.#res.write('\n'));
  }
}
