import type { ConnectedVia } from '../auth/connected-via.ts';
import type { ClientCapabilities, ClientPeer } from '../gateway/client-peer.ts';
import { ErrorCode, errorResponse, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from '../gateway/jsonrpc.ts';
import type { Schedule } from '../gateway/unref-timer.ts';
import type { RouterPort } from './router-port.ts';

/** One server→client request of the upstream, waiting for the modern caller's answer. */
export interface OutstandingInput {
  /** Harbor's key in `inputRequests` / `inputResponses`. */
  key: string;
  /** The router's id for it: the answer goes back under this id. */
  gatewayId: JsonRpcId;
  method: string;
  params: Record<string, unknown>;
}

export type NotificationSink = (message: JsonRpcNotification) => void;

/**
 * How long a round waits, after the call's latest server→client request, for more before it answers
 * input_required. A legacy server that asks several things at once (Promise.all) writes them
 * back-to-back, but they may reach Harbor in separate reads of its stdout (under load, or past a pipe
 * buffer): answering on the first would send the caller one round per read. The trade-off: every
 * input_required round answers this much later (nothing next to a person or a model answering it),
 * and a request later than the window is not lost, it goes in the next round; so correctness never
 * depends on the window, only how many rounds a client sees. A call's result ends the round at once.
 */
export const DEFAULT_COALESCE_MS = 50;

export interface RoundTiming {
  /** The quiet window above (DEFAULT_COALESCE_MS). */
  coalesceMs: number;
  /** Injectable timer (tests drive it by hand). */
  schedule: Schedule;
}

/**
 * The caller of a round went away (its response closed before the answer; streamable-http
 * "Cancellation"): a flag and one listener the round sets, not an AbortSignal, whose EventTarget
 * listener and second promise per call were a measurable part of the modern path's garbage
 * (bench/echo-eras.ts).
 */
export interface CallCancel {
  aborted: boolean;
  onAbort: (() => void) | null;
}

/** A fresh CallCancel; `abort()` it when the caller goes away. */
export function callCancel(): CallCancel {
  return { aborted: false, onAbort: null };
}

/** Marks the caller gone and ends the round waiting on it, if any. */
export function abortCall(cancel: CallCancel): void {
  if (cancel.aborted) return;
  cancel.aborted = true;
  cancel.onAbort?.();
}

const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

const KEY_PREFIX: Readonly<Record<string, string>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/**
 * One modern call as the upstream router sees it: a ClientPeer that lives for the call's rounds (not
 * a session). The router gives it the call's answer, its progress, and the upstream's server→client
 * requests, which it queues for the next `input_required` round instead of putting them on a stream
 * (a modern caller never receives a request). State only; the round logic is InputRequiredTranslator.
 */
// A counter, not a random id: the id only tells peers apart inside this process (logs, the pool's
// stand-ins), and randomUUID was a measurable part of a modern call's cost (bench/echo-eras.ts).
let callNumber = 0;

export class ModernCall implements ClientPeer {
  readonly #number = ++callNumber;
  #id: string | undefined;
  readonly teammate: string;
  via: ConnectedVia | undefined;
  capabilities: ClientCapabilities;
  /** The JSON-RPC id of round 1: the router knows the call by it for all rounds. */
  readonly upstreamId: JsonRpcId;
  /**
   * The request's method and the name or uri it targets (what its requestState digest names), not the
   * request: a finished call can outlive its answer in the collector's books for a while (the router
   * attaches and detaches a peer per modern call), and holding the parsed request made it promote
   * ~0.6 KB more per call to the old generation (bench/alloc-per-call.ts).
   */
  readonly method: string;
  readonly target: unknown;
  /** The router the call goes through (set by the translator): refusals and expiry go there. */
  router: RouterPort | undefined;
  /** Set once the call is parked in PendingCalls. */
  pendingId: string | undefined;
  round = 1;
  /** False for methods that may not answer input_required: their upstream requests are refused. */
  acceptsInput = true;
  final: JsonRpcResponse | undefined;
  /** A client capability the upstream asked for and the envelope lacked: if the call then fails, it is -32021. */
  missing: string | undefined;
  // Made on first use, as is #ring: nearly every call asks nothing, and each was per-call garbage (bench/echo-eras.ts).
  #outstanding: Map<string, OutstandingInput> | null = null;
  #seq = 0;
  #sink: NotificationSink | null = null;
  #progressToken: JsonRpcId | undefined;
  #logLevel: string | undefined;
  /** The waiting round's answerer (whenSettled): true when its caller went away. */
  #done: ((aborted: boolean) => void) | null = null;
  #cancel: CallCancel | undefined;
  /** The quiet window ran out: the round answers with the input it has. */
  #ring: (() => void) | null = null;
  /** The caller went away while the round waited. */
  #gone: (() => void) | null = null;
  readonly #timing: RoundTiming;
  #cancelQuiet: (() => void) | null = null;

  constructor(teammate: string, capabilities: ClientCapabilities, request: JsonRpcRequest, timing: RoundTiming) {
    this.teammate = teammate;
    this.capabilities = capabilities;
    this.upstreamId = request.id;
    this.method = request.method;
    this.target = request.params?.name ?? request.params?.uri;
    this.#timing = timing;
  }

  /** Made when first asked (logs, the pool's stand-ins): nearly no call is asked, and each was a string per call. */
  get id(): string {
    return (this.#id ??= `modern-${this.#number}`);
  }

  /** Refuses a server→client request outright (wrong method for input, or the caller went away). */
  refuse(request: JsonRpcRequest, why: string): void {
    this.router?.fromClient(this, errorResponse(request.id, ErrorCode.MethodNotFound, why));
  }

  /** The call is over (answered or abandoned): it lets go of what it still holds, see `method`. */
  release(): void {
    this.final = undefined;
    this.#outstanding = null;
    this.closeRound();
  }

  /** The upstream's server→client requests waiting for the caller's answers, by Harbor's key. */
  get outstanding(): Map<string, OutstandingInput> {
    return (this.#outstanding ??= new Map());
  }

  /** A round begins: notifications go to this round's response stream, with its own progress token. */
  openRound(progressToken: JsonRpcId | undefined, logLevel: string | undefined, sink: NotificationSink | null): void {
    this.#progressToken = progressToken;
    this.#logLevel = logLevel;
    this.#sink = sink;
  }

  closeRound(): void {
    this.#sink = null;
    this.#done = null;
    if (this.#cancel) this.#cancel.onAbort = null;
    this.#cancel = undefined;
    this.#quiet(false);
  }

  /**
   * Calls `done(false)` once the call has something to answer the round with: its result (at once), or
   * input to ask for, once no further request of the call came for `coalesceMs` (DEFAULT_COALESCE_MS);
   * `done(true)` instead when `cancel` says the caller went away (before or while it waits). Once per
   * round, and never synchronously: in a microtask after the router is done with the message that
   * settled the call (its answer detaches the call from the router), as an awaited promise would. A
   * callback rather than a promise: the promise and the async frames awaiting it, one per layer of
   * the modern path, were the larger part of a modern call's garbage (bench/echo-eras.ts).
   */
  whenSettled(cancel: CallCancel | undefined, done: (aborted: boolean) => void): void {
    this.#done = done;
    if (cancel?.aborted) return this.#end(true);
    if (this.final) return this.#end(false);
    if (cancel) {
      this.#cancel = cancel;
      cancel.onAbort = this.#gone ??= () => this.#end(true);
    }
    if (this.#outstanding?.size) this.#quiet(true);
  }

  /** Ends the waiting round, if one waits. */
  #end(aborted: boolean): void {
    const done = this.#done;
    if (!done) return;
    this.#done = null;
    queueMicrotask(() => done(aborted));
  }

  /** (Re)starts the quiet window that ends the waiting round (`run`), or just stops it. */
  #quiet(run: boolean): void {
    this.#cancelQuiet?.();
    this.#cancelQuiet = run ? this.#timing.schedule((this.#ring ??= () => this.#end(false)), this.#timing.coalesceMs) : null;
  }

  /** Called by the router when it refuses the upstream a request this call's capabilities lack. */
  missingCapability(capability: string): void {
    this.missing ??= capability;
  }

  /** Called by the router. */
  deliver(message: JsonRpcMessage): void {
    if (isResponse(message)) {
      if (message.id !== this.upstreamId || this.final) return;
      this.final = message;
      this.#quiet(false);
      this.#end(false);
      return;
    }
    if (isRequest(message)) {
      this.#queue(message);
      return;
    }
    this.#notify(message as JsonRpcNotification);
  }

  #queue(request: JsonRpcRequest): void {
    const prefix = KEY_PREFIX[request.method];
    if (!prefix || this.final || !this.acceptsInput) {
      const why = prefix && !this.acceptsInput
        ? `${request.method} is not available while serving ${this.method} to a 2026-07-28 caller`
        : `Harbor cannot pass ${request.method} to a 2026-07-28 caller`;
      this.refuse(request, why);
      return;
    }
    const key = `${prefix}-${++this.#seq}`;
    this.outstanding.set(key, { key, gatewayId: request.id, method: request.method, params: request.params ?? {} });
    // A round is waiting: it answers once the upstream stops asking (DEFAULT_COALESCE_MS). Between
    // rounds the request simply waits for the next one.
    if (this.#done) this.#quiet(true);
  }

  #notify(message: JsonRpcNotification): void {
    if (!this.#sink) return;
    if (message.method === 'notifications/progress') {
      if (this.#progressToken === undefined) return;
      this.#sink({ ...message, params: { ...message.params, progressToken: this.#progressToken } });
      return;
    }
    if (message.method === 'notifications/message') {
      // The revision: no log messages for a request that set no logLevel; below it, none either.
      if (this.#logLevel === undefined) return;
      const level = LOG_LEVELS.indexOf(String(message.params?.level));
      if (level < LOG_LEVELS.indexOf(this.#logLevel)) return;
    }
    this.#sink(message);
  }
}
