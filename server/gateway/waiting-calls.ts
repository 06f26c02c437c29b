import type { JsonRpcId, JsonRpcRequest } from './jsonrpc.ts';

export interface WaitingCall<P> {
  session: P;
  request: JsonRpcRequest;
  /** Keep the answer in the tool-result cache under this key. */
  cacheKey?: string;
  /** A replay after a planned restart: not replayed again. */
  replayed?: boolean;
}

export interface WaitingCallsOptions<P> {
  /** One call in flight at a time (mode "serial"): every server→client request is attributable. */
  serial: boolean;
  /** Calls in flight upstream now. */
  inFlight: () => number;
  /** In shared mode: this call waits for the interactive lane (RequestAttribution.mustWait); later ones may pass it. */
  mustWait: (call: WaitingCall<P>) => boolean;
  /** The upstream is initialised and up: calls may start. */
  ready: () => boolean;
  /** Initialises the upstream (init-handshake.ts); rejects with why it could not. */
  initialise: () => Promise<unknown>;
  /** No more initialising: the router is closing. */
  closed: () => boolean;
  /** Sends one call upstream. */
  start: (call: WaitingCall<P>) => void;
  /** A waiting call that cannot start: the upstream did not initialise, for this reason. */
  fail: (call: WaitingCall<P>, why: string) => void;
}

/**
 * The calls of one upstream that are not in flight yet: waiting for the upstream to be initialised,
 * for their turn in serial mode, or for the interactive lane in shared mode (the others pass them).
 * First in, first out otherwise; a replay goes first. Calls of a session that ended, or cancelled
 * while waiting, never reach the upstream.
 *
 * Not fair-call-queue.ts: that line is round-robin per teammate with a slot count, and starts only the
 * head of a line; this one lets a call pass another that waits for the lane, and is unbounded (the
 * fair queue in front of it, when configured, bounds it).
 */
export class WaitingCalls<P> {
  #calls: WaitingCall<P>[] = [];
  readonly #options: WaitingCallsOptions<P>;

  constructor(options: WaitingCallsOptions<P>) {
    this.#options = options;
  }

  get size(): number {
    return this.#calls.length;
  }

  push(call: WaitingCall<P>): void {
    this.#calls.push(call);
    this.pump();
  }

  /** Replays go before anything that was waiting. */
  putFirst(calls: WaitingCall<P>[]): void {
    this.#calls.unshift(...calls);
    this.pump();
  }

  /** Removes a session's waiting call by the client's id; false when it was not waiting (in flight, or unknown). */
  cancel(session: P, clientId: JsonRpcId): boolean {
    const index = this.#calls.findIndex((w) => w.session === session && w.request.id === clientId);
    if (index < 0) return false;
    this.#calls.splice(index, 1);
    return true;
  }

  /** A session ended: its waiting calls are dropped unanswered. */
  dropSession(session: P): void {
    // Runs on every detach (a modern call detaches once per call): no new array unless there is something to drop.
    if (this.#calls.some((w) => w.session === session)) this.#calls = this.#calls.filter((w) => w.session !== session);
  }

  /**
   * Starts the calls that may start now, in order, once the upstream is initialised (initialising it
   * first when calls wait); when it cannot be, every waiting call fails. Call it whenever a call
   * finished or the upstream came up.
   */
  pump(): void {
    if (this.#options.ready()) return this.#release();
    if (this.#calls.length === 0 || this.#options.closed()) return;
    void this.#options.initialise().then(
      () => this.pump(),
      (error: Error) => this.#failAll(error.message),
    );
  }

  #failAll(why: string): void {
    const calls = this.#calls;
    this.#calls = [];
    for (const call of calls) this.#options.fail(call, why);
  }

  /** `start` may add or remove calls meanwhile: the loop reads the line afresh each turn. */
  #release(): void {
    const { serial, inFlight, mustWait, start } = this.#options;
    for (let i = 0; i < this.#calls.length; ) {
      if (serial && inFlight() > 0) return;
      const next = this.#calls[i]!;
      if (!serial && mustWait(next)) {
        i++;
        continue;
      }
      this.#calls.splice(i, 1);
      start(next);
    }
  }
}
