import type { Logger } from '../logger.ts';
import { answeredCallEvent, type CallEvent } from './call-event.ts';
import type { ClientCapabilities, ClientPeer } from './client-peer.ts';
import { FairCallQueue, type FairCallQueueStats } from './fair-call-queue.ts';
import {
  ErrorCode,
  errorResponse,
  isRequest,
  isResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.ts';
import { rateLimitSignal } from './rate-limit-answer.ts';
import { createCopyRest, type CopyRest } from './rate-limit-rest.ts';
import { scheduleUnref, type Schedule } from './unref-timer.ts';
import type { UpstreamRouter } from './upstream-router.ts';

export interface UpstreamPoolOptions {
  serverName: string;
  /** One router per copy of the server (replicas), each over its own supervised process. */
  copies: UpstreamRouter[];
  /** Tool calls in flight over all copies (Infinity: no cap). */
  maxConcurrentCalls: number;
  /** Tool calls in flight per copy: 1 in serial mode, so every call's origin stays provable. */
  maxPerCopy: number;
  /** Tool calls waiting; beyond it a call is refused with LimitExceeded. */
  maxQueuedCalls: number;
  /** A tool result with isError whose text matches this was rate-limited by the API behind the server. */
  rateLimitPattern: RegExp;
  /** Tools retried after a rate limit besides those declaring readOnlyHint or idempotentHint. */
  retryTools: readonly string[];
  /** Retries of one call after rate limits, on another copy when there is one. */
  maxRetries: number;
  /** A tool call's deadline, counted from its arrival (queue wait included): see #expire. */
  requestTimeoutMs: number;
  log: Logger;
  /** Every tool call answered (or refused) here, timed from its arrival: the copies' routers do not report tool calls of a pool. */
  onCallDone?: (event: CallEvent) => void;
  /** Clock of the rests (Date.now). */
  now?: () => number;
  /** Clock of arrivals, waits and call durations (performance.now). */
  callClock?: () => number;
  /** Timers of the calls' deadlines (tests drive them by hand). */
  schedule?: Schedule;
  random?: () => number;
  /** Every start of a queued call, with its wait (0 when it started at once). */
  onQueueWait?: (ms: number) => void;
  onRateLimited?: (copy: number) => void;
}

export interface PoolStatus {
  queue: FairCallQueueStats;
  /** held: out of the pick while a rolling restart drains it. */
  copies: Array<{ restingForMs: number | null; rateLimited: number; calls: number; held?: boolean }>;
}

interface PoolCall {
  session: ClientPeer;
  request: JsonRpcRequest;
  tool: string | undefined;
  /** The copy it runs on; null while it waits in the queue. */
  copy: number | null;
  retries: number;
  /** When it arrived (callClock): its duration and its deadline count from here. */
  arrivedAt: number;
  cancelDeadline: () => void;
}

interface Copy {
  router: UpstreamRouter;
  rest: CopyRest;
  /** Tool calls of this pool running on it (the pool's own count: the router's also holds lists). */
  calls: number;
  /** Taken out of the pick for a rolling restart (hold): nothing new starts on it. */
  held: boolean;
}

/**
 * N copies of one shared server behind one line. Tool calls wait in a FairCallQueue (round-robin by
 * teammate) and start on the copy with the fewest calls in flight that is not resting; a copy whose
 * answer says it was rate-limited rests for the wait the answer names (or a jittered backoff), and a
 * retry-safe call goes back to the front of its teammate's line to run on another copy. Methods other
 * than tools/call (lists, reads, prompts) skip the line: they are answered from the server's own
 * memory, not the API behind it, and a client's start-up must not wait behind a teammate's burst.
 *
 * Each session is attached to every copy through a stand-in peer per copy, so each copy's router keeps
 * its own books (ids, progress, attribution) unchanged. Choices, kept simple:
 * - subscriptions: `resources/subscribe` and `unsubscribe` go to every copy (the client hears copy 0's
 *   answer), so a `resources/updated` from whichever copy notices a change reaches the subscriber; two
 *   copies noticing one change send two notes, harmless (the client re-reads);
 * - server→client requests: attributed by the copy's router (only its own calls count, so a pool is
 *   more often unambiguous than one process), re-numbered here so answers go back to that copy;
 * - a call in flight on a copy that crashes fails as on one process (the call may be what crashed it);
 *   later calls go to the copies that are up while the supervisor restarts the dead one.
 */
export class UpstreamPool {
  readonly name: string;
  readonly #options: UpstreamPoolOptions;
  readonly #copies: Copy[];
  readonly #queue: FairCallQueue<PoolCall>;
  readonly #peers = new Map<ClientPeer, ClientPeer[]>();
  readonly #calls = new Map<ClientPeer, Map<JsonRpcId, PoolCall>>();
  readonly #serverRequests = new Map<number, { session: ClientPeer; copy: number; upstreamId: JsonRpcId }>();
  /** Ids of the subscribe/unsubscribe copies sent to copies other than 0: their answers are dropped. */
  readonly #echoes = new Map<string, ClientPeer>();
  readonly #callClock: () => number;
  readonly #schedule: Schedule;
  #nextId = 1;
  #wake: NodeJS.Timeout | null = null;
  #wakeAt = 0;

  constructor(options: UpstreamPoolOptions) {
    if (options.copies.length === 0) throw new Error('a pool needs at least one copy');
    this.name = options.serverName;
    this.#options = options;
    this.#callClock = options.callClock ?? (() => performance.now());
    this.#schedule = options.schedule ?? scheduleUnref;
    this.#copies = options.copies.map((router) => ({
      router,
      rest: createCopyRest({ ...(options.now ? { now: options.now } : {}), ...(options.random ? { random: options.random } : {}) }),
      calls: 0,
      held: false,
    }));
    this.#queue = new FairCallQueue<PoolCall>({
      maxConcurrent: options.maxConcurrentCalls,
      maxQueued: options.maxQueuedCalls,
      canStart: () => this.#pick() !== null,
      start: (call, waitedMs) => this.#start(call, waitedMs),
      now: this.#callClock,
    });
  }

  get routers(): readonly UpstreamRouter[] {
    return this.#copies.map((c) => c.router);
  }

  /** Starts every copy; fails only when none starts (the others keep their supervisors retrying). */
  async warmUp(): Promise<void> {
    const results = await Promise.allSettled(this.#copies.map(async ({ router }) => {
      if (!router.upstream.up) await router.upstream.start();
    }));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length === results.length) throw (failed[0] as PromiseRejectedResult).reason;
  }

  attach(session: ClientPeer): void {
    if (this.#peers.has(session)) return;
    const peers = this.#copies.map((_, k) => this.#standIn(session, k));
    this.#peers.set(session, peers);
    this.#calls.set(session, new Map());
    this.#copies.forEach((copy, k) => copy.router.attach(peers[k]!));
  }

  /** Initialises the session on every copy and answers with the first copy that succeeds. */
  async initialize(session: ClientPeer, request: JsonRpcRequest): Promise<JsonRpcResponse> {
    this.attach(session);
    const peers = this.#peers.get(session)!;
    const answers = this.#copies.map((copy, k) =>
      copy.router.initialize(peers[k]!, request).then((response) => {
        // A copy that is down now stays attached: it takes calls once its supervisor brings it back.
        if (response.error && this.#peers.get(session) === peers) copy.router.attach(peers[k]!);
        return response;
      }),
    );
    const response = await firstSuccess(answers);
    if (response.error) this.detach(session);
    return response;
  }

  initializeResult(): ReturnType<UpstreamRouter['initializeResult']> {
    return Promise.any(this.#copies.map((c) => c.router.initializeResult())).catch((error: AggregateError) => {
      throw error.errors[0] as Error;
    });
  }

  fromClient(session: ClientPeer, message: JsonRpcMessage): void {
    const peers = this.#peers.get(session);
    if (!peers) {
      if (isRequest(message)) session.deliver(errorResponse(message.id, ErrorCode.InvalidRequest, 'session is not initialised'), message.id);
      return;
    }
    if (isRequest(message)) {
      if (message.method === 'tools/call') this.#enqueue(session, message);
      else if (message.method === 'resources/subscribe' || message.method === 'resources/unsubscribe') this.#onEveryCopy(session, peers, message);
      else {
        const k = this.#pick() ?? this.#leastBusy(this.#unheld());
        this.#copies[k]!.router.fromClient(peers[k]!, message);
      }
      return;
    }
    if (isResponse(message)) {
      this.#answerServerRequest(session, peers, message);
      return;
    }
    const note = message as JsonRpcNotification;
    if (note.method === 'notifications/cancelled' && this.#cancel(session, peers, note)) return;
    // Anything else (roots changed, progress on a server request…): every copy; a router ignores ids it does not hold.
    this.#copies.forEach((copy, k) => copy.router.fromClient(peers[k]!, note));
  }

  /** Forgets a session: its waiting calls are dropped, its running ones cancelled on their copies. */
  detach(session: ClientPeer): void {
    const peers = this.#peers.get(session);
    if (!peers) return;
    this.#peers.delete(session);
    const calls = this.#calls.get(session)!;
    this.#calls.delete(session);
    this.#queue.remove(session.teammate, (call) => call.session === session);
    for (const [id, pending] of this.#serverRequests) if (pending.session === session) this.#serverRequests.delete(id);
    // A detached session's echoes are never answered (its router state goes with it).
    for (const [id, owner] of this.#echoes) if (owner === session) this.#echoes.delete(id);
    let running = 0;
    for (const call of calls.values()) {
      call.cancelDeadline();
      if (call.copy === null) continue;
      this.#copies[call.copy]!.calls--;
      running++;
    }
    this.#copies.forEach((copy, k) => copy.router.detach(peers[k]!));
    for (let i = 0; i < running; i++) this.#queue.release();
  }

  status(): PoolStatus {
    return {
      queue: this.#queue.stats(),
      copies: this.#copies.map((c) => ({ restingForMs: c.rest.remainingMs() || null, rateLimited: c.rest.limited, calls: c.calls, held: c.held })),
    };
  }

  /**
   * Takes copy k out of the pick (a rolling restart drains it: hosted-server.ts) until the returned
   * function puts it back. Calls running on it finish there; new ones go to the other copies, or wait.
   */
  hold(k: number): () => void {
    const copy = this.#copies[k]!;
    copy.held = true;
    return () => {
      copy.held = false;
      this.#queue.pump();
    };
  }

  /** Share of copies not resting after a rate limit (the "upstream rate-limit remaining" metric). */
  notRestingShare(): number {
    return this.#copies.filter((c) => c.rest.remainingMs() === 0).length / this.#copies.length;
  }

  async close(): Promise<void> {
    if (this.#wake) clearTimeout(this.#wake);
    this.#wake = null;
    for (const session of [...this.#peers.keys()]) this.detach(session);
    this.#queue.clear();
    await Promise.all(this.#copies.map((c) => c.router.close()));
  }

  /** The peer a copy's router sees for `session`: same teammate and capabilities, answers come back here. */
  #standIn(session: ClientPeer, k: number): ClientPeer {
    return {
      id: session.id,
      teammate: session.teammate,
      via: session.via,
      get capabilities(): ClientCapabilities {
        return session.capabilities;
      },
      set capabilities(value: ClientCapabilities) {
        session.capabilities = value;
      },
      deliver: (message, related) => this.#fromCopy(session, k, message, related),
      missingCapability: (capability, method) => session.missingCapability?.(capability, method),
    };
  }

  #enqueue(session: ClientPeer, request: JsonRpcRequest): void {
    const calls = this.#calls.get(session)!;
    const name = request.params?.name;
    const call: PoolCall = { session, request, tool: typeof name === 'string' ? name : undefined, copy: null, retries: 0, arrivedAt: this.#callClock(), cancelDeadline: () => {} };
    calls.set(request.id, call);
    // Armed before submit: a copy's router may answer (refuse) the call synchronously inside it.
    call.cancelDeadline = this.#schedule(() => this.#expire(call), this.#options.requestTimeoutMs);
    if (this.#queue.submit(session.teammate, call)) return;
    const { running, maxQueued } = this.#queue.stats();
    // Refused like any failed call: the caller and the error metrics hear of each, the audit log once per window (call-recorder.ts).
    this.#finish(
      call,
      errorResponse(
        request.id,
        ErrorCode.LimitExceeded,
        `server "${this.name}" has ${maxQueued} calls waiting (maxQueuedCalls ${maxQueued}) behind ${running} running; try again shortly`,
      ),
      'queue_full',
    );
  }

  /**
   * A tool call's deadline (requestTimeoutSeconds) counts from its arrival, queue wait included: it is
   * the longest a teammate waits for an answer, whatever the line. A call still waiting then leaves the
   * line and fails with -32002 naming the queue (it never reaches the server: its caller has given up);
   * a running one is cancelled on its copy and fails as a timeout. The trade-off: a call that waited
   * long has less time to run, and may be cancelled after the server did part of the work. The other
   * choice, a full timeout again once it starts, lets a caller wait up to twice the timeout for an
   * answer its client has usually stopped waiting for (clients time out on their own), while that call
   * still holds a slot the line needs. The copy's router keeps its own timer, counted from the start,
   * as a backstop; it never fires first.
   */
  #expire(call: PoolCall): void {
    if (this.#calls.get(call.session)?.get(call.request.id) !== call) return;
    const timeout = inSeconds(this.#options.requestTimeoutMs);
    const waited = inSeconds(this.#callClock() - call.arrivedAt);
    if (call.copy === null) {
      this.#queue.remove(call.session.teammate, (c) => c === call);
      const { maxConcurrent, running, queued } = this.#queue.stats();
      const cap = maxConcurrent === null ? '' : ` (maxConcurrentCalls ${maxConcurrent})`;
      this.#finish(
        call,
        errorResponse(
          call.request.id,
          ErrorCode.LimitExceeded,
          `server "${this.name}": the call waited ${waited} in its queue${cap} behind ${running} running and ${queued} more waiting, past its ${timeout} timeout (requestTimeoutSeconds); it was not sent to the server`,
        ),
      );
      return;
    }
    const k = call.copy;
    this.#copies[k]!.calls--;
    call.copy = null;
    const peers = this.#peers.get(call.session);
    const cancel: JsonRpcNotification = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: call.request.id, reason: `timed out after ${timeout}` } };
    if (peers) this.#copies[k]!.router.fromClient(peers[k]!, cancel);
    this.#finish(
      call,
      errorResponse(call.request.id, ErrorCode.UpstreamUnavailable, `server "${this.name}" did not answer within ${timeout} (counted from the call's arrival, its wait in the queue included)`),
    );
    this.#queue.release();
  }

  /** The caller's answer to a tool call, reported once, timed from its arrival. */
  #finish(call: PoolCall, response: JsonRpcResponse, refused?: CallEvent['refused']): void {
    call.cancelDeadline();
    const calls = this.#calls.get(call.session);
    if (calls?.get(call.request.id) === call) calls.delete(call.request.id);
    call.session.deliver(response, call.request.id);
    if (!this.#options.onCallDone) return;
    const event = answeredCallEvent({ session: call.session, method: 'tools/call', tool: call.tool }, response, this.#callClock() - call.arrivedAt);
    this.#options.onCallDone(refused ? { ...event, refused } : event);
  }

  #start(call: PoolCall, waitedMs: number): void {
    const peers = this.#peers.get(call.session);
    const k = this.#pick();
    if (!peers || k === null) {
      // Not reachable (canStart and detach guard both), but a slot must never leak.
      this.#queue.release();
      return;
    }
    call.copy = k;
    this.#copies[k]!.calls++;
    this.#options.onQueueWait?.(waitedMs);
    this.#copies[k]!.router.fromClient(peers[k]!, call.request);
  }

  /** The copy a tool call starts on: fewest calls, not resting nor held, up copies before ones (re)starting. */
  #pick(): number | null {
    const open = this.#copies.flatMap((c, k) => (!c.held && c.rest.remainingMs() === 0 && c.calls < this.#options.maxPerCopy ? [k] : []));
    if (open.length === 0) return null;
    const up = open.filter((k) => this.#copies[k]!.router.upstream.up);
    return this.#leastBusy(up.length > 0 ? up : open);
  }

  /** Every copy not held, or every copy when all are (a list or a read must go somewhere). */
  #unheld(): number[] {
    const all = this.#copies.map((_, k) => k);
    const unheld = all.filter((k) => !this.#copies[k]!.held);
    return unheld.length > 0 ? unheld : all;
  }

  #leastBusy(candidates: number[]): number {
    let best = candidates[0]!;
    for (const k of candidates) if (this.#copies[k]!.calls < this.#copies[best]!.calls) best = k;
    return best;
  }

  #onEveryCopy(session: ClientPeer, peers: ClientPeer[], request: JsonRpcRequest): void {
    this.#copies.forEach((copy, k) => {
      if (k === 0) {
        copy.router.fromClient(peers[0]!, request);
        return;
      }
      const id = `harbor-pool-${this.#nextId++}`;
      this.#echoes.set(id, session);
      copy.router.fromClient(peers[k]!, { ...request, id });
    });
  }

  #fromCopy(session: ClientPeer, k: number, message: JsonRpcMessage, related: JsonRpcId | undefined): void {
    if (isResponse(message)) {
      if (typeof message.id === 'string' && this.#echoes.delete(message.id)) return;
      const call = message.id === null ? undefined : this.#calls.get(session)?.get(message.id);
      if (call && call.copy === k) this.#settle(call, k, message);
      else session.deliver(message, related);
      return;
    }
    if (isRequest(message)) {
      const id = this.#nextId++;
      this.#serverRequests.set(id, { session, copy: k, upstreamId: message.id });
      session.deliver({ ...message, id }, related);
      return;
    }
    const note = message as JsonRpcNotification;
    if (note.method === 'notifications/cancelled') {
      // The copy withdrew a server→client request: name it by the id the client knows.
      for (const [id, pending] of this.#serverRequests) {
        if (pending.session !== session || pending.copy !== k || pending.upstreamId !== note.params?.requestId) continue;
        this.#serverRequests.delete(id);
        session.deliver({ ...note, params: { ...note.params, requestId: id } }, related);
        return;
      }
    }
    session.deliver(message, related);
  }

  /** A tool call's answer from copy k: a rate limit rests the copy and may retry; anything else goes to the caller. */
  #settle(call: PoolCall, k: number, response: JsonRpcResponse): void {
    const copy = this.#copies[k]!;
    copy.calls--;
    call.copy = null;
    const signal = rateLimitSignal(response, this.#options.rateLimitPattern);
    if (signal) {
      const restMs = copy.rest.rest(signal.retryAfterMs);
      this.#options.onRateLimited?.(k);
      const retry = call.retries < this.#options.maxRetries && this.#retrySafe(call.tool);
      this.#options.log.info(
        { server: this.name, copy: k, tool: call.tool, restMs, retry, teammate: call.session.teammate },
        `copy ${k} was rate-limited: resting ${Math.round(restMs / 100) / 10} s${retry ? ', retrying the call' : ''}`,
      );
      this.#wakeAfterRests();
      if (retry) {
        call.retries++;
        this.#queue.requeue(call.session.teammate, call);
        this.#queue.release();
        return;
      }
    } else copy.rest.ok();
    this.#finish(call, response);
    this.#queue.release();
  }

  #retrySafe(tool: string | undefined): boolean {
    if (tool === undefined) return false;
    return this.#options.retryTools.includes(tool) || this.#copies.some((c) => c.router.retrySafeTool(tool));
  }

  /** A cancelled tool call: removed from the line (it never reaches a server), or cancelled on its copy. */
  #cancel(session: ClientPeer, peers: ClientPeer[], note: JsonRpcNotification): boolean {
    const requestId = note.params?.requestId;
    const calls = this.#calls.get(session)!;
    const call = typeof requestId === 'string' || typeof requestId === 'number' ? calls.get(requestId) : undefined;
    if (!call) return false;
    calls.delete(call.request.id);
    call.cancelDeadline();
    if (call.copy === null) {
      this.#queue.remove(session.teammate, (c) => c === call);
      return true;
    }
    const k = call.copy;
    this.#copies[k]!.calls--;
    this.#copies[k]!.router.fromClient(peers[k]!, note);
    this.#queue.release();
    return true;
  }

  #answerServerRequest(session: ClientPeer, peers: ClientPeer[], response: JsonRpcResponse): void {
    const pending = typeof response.id === 'number' ? this.#serverRequests.get(response.id) : undefined;
    // Only the session that was asked may answer (ids are guessable), as in the router.
    if (!pending || pending.session !== session) return;
    this.#serverRequests.delete(response.id as number);
    this.#copies[pending.copy]!.router.fromClient(peers[pending.copy]!, { ...response, id: pending.upstreamId });
  }

  /** While every copy rests, nothing starts: look again when the first rest ends. */
  #wakeAfterRests(): void {
    const resting = this.#copies.map((c) => c.rest.remainingMs()).filter((ms) => ms > 0);
    if (resting.length === 0) return;
    const at = Date.now() + Math.min(...resting) + 1;
    if (this.#wake && this.#wakeAt <= at) return;
    if (this.#wake) clearTimeout(this.#wake);
    this.#wakeAt = at;
    this.#wake = setTimeout(() => {
      this.#wake = null;
      this.#queue.pump();
      this.#wakeAfterRests();
    }, at - Date.now());
    this.#wake.unref();
  }
}

/** 1500 → "1.5s": timeouts may be set below a second. */
function inSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

/** The first answer without an error, else the first answer. */
async function firstSuccess(answers: Promise<JsonRpcResponse>[]): Promise<JsonRpcResponse> {
  try {
    return await Promise.any(answers.map((p) => p.then((r) => (r.error ? Promise.reject(r) : r))));
  } catch {
    return answers[0]!;
  }
}
