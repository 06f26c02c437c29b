import { LRUCache } from 'lru-cache';
import type { JsonRpcId } from './jsonrpc.ts';
import { scheduleUnref, type Schedule } from './unref-timer.ts';

/**
 * Who caused a shared upstream's server→client request (sampling, elicitation, roots), proven, never
 * guessed (DESIGN.md section 3). A legacy request carries no link to the call that sent it, so the
 * proof is: the upstream was serving calls of one peer only when it arrived.
 *
 * Two things make that proof available without refusing:
 * - The interactive lane. Calls that may send such requests (a tool seen doing so, or one never seen
 *   finishing yet) run one at a time per upstream; every other call stays concurrent. So two calls
 *   that wait on their callers never overlap.
 * - Holding. A request that arrives while several peers have calls in flight waits (bounded) while
 *   the other candidates finish: a call that finished cannot be waiting on it. Only calls in flight
 *   when it arrived are candidates; when one peer's remain, it goes to that peer. When the wait runs
 *   out, nobody receives it (refused, as before).
 *
 * A key never seen finishing passes a lane holder that waits on its caller (see mustWait).
 *
 * Learning: a call whose request was attributed marks its key interactive; a call that finished with
 * no request marks an unknown key quiet; a hold that ran out marks every candidate interactive (a
 * "quiet" tool that turned out interactive is serialised from then on). Calls parked in a 2026-07-28
 * input_required round are in flight upstream, so they are candidates and hold the lane like any other.
 */

/** How a call's key behaves, as far as Harbor has seen. Absent from the table: unknown. */
type Knowledge = 'quiet' | 'interactive';

interface Call<P> {
  peer: P;
  key: string | null;
  /** A server→client request named this call as a candidate: it may not be learned quiet. */
  touched: boolean;
  /** Requests delivered to its caller and not answered yet: the call waits on a person or a client. */
  asking: number;
}

interface Held {
  /** Calls in flight when the request arrived that are still in flight. */
  candidates: Set<number>;
  cancelTimer: () => void;
}

export type Attribution<P> =
  | { kind: 'deliver'; peer: P; callId: number | undefined }
  | { kind: 'hold' }
  | { kind: 'refuse'; reason: string };

export interface RequestAttributionOptions<P> {
  /** How long an ambiguous request may wait for its origin to become provable. */
  holdMs: number;
  /** A held request was decided (delivered to its proven peer, or refused). */
  onDecided: (requestId: JsonRpcId, decision: Exclude<Attribution<P>, { kind: 'hold' }>) => void;
  /** Requests held at once; one past it is refused at once. */
  maxHeld?: number;
  /** Injectable timer (tests drive it); returns its cancel function. */
  schedule?: Schedule;
}

/** Methods whose calls may lead to server→client requests, and what names them. */
const KEYED_METHODS: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** The key a call is learned under (`tools/call:echo`), or null for methods that never take the lane. */
export function attributionKey(method: string, params: Record<string, unknown> | undefined): string | null {
  const field = KEYED_METHODS[method];
  if (!field) return null;
  const value = params?.[field];
  return typeof value === 'string' ? `${method}:${value.slice(0, 512)}` : null;
}

export class RequestAttribution<P> {
  // Bounded: resources/read keys are URIs, as many as a server has resources. Forgetting one only
  // sends its next call through the lane once more.
  readonly #knowledge = new LRUCache<string, Knowledge>({ max: 4096 });
  readonly #calls = new Map<number, Call<P>>();
  readonly #held = new Map<JsonRpcId, Held>();
  #lane: number | null = null;
  readonly #options: RequestAttributionOptions<P>;
  readonly #schedule: Schedule;

  constructor(options: RequestAttributionOptions<P>) {
    this.#options = options;
    this.#schedule = options.schedule ?? scheduleUnref;
  }

  get heldCount(): number {
    return this.#held.size;
  }

  knowledge(key: string): Knowledge | 'unknown' {
    return this.#knowledge.get(key) ?? 'unknown';
  }

  /**
   * Whether a call with this key must wait for the interactive lane (another lane call is in flight).
   * A key never seen finishing passes a lane holder that waits on its caller (an elicitation form, a
   * parked input_required round: minutes): most tools never ask anything, and they should not queue
   * behind a person. If it does ask, its request is held and, unprovable, refused, and the key is
   * serialised from then on.
   */
  mustWait(key: string | null): boolean {
    if (!this.#needsLane(key) || this.#lane === null) return false;
    return this.knowledge(key!) === 'interactive' || (this.#calls.get(this.#lane)?.asking ?? 0) === 0;
  }

  /** A server→client request of this call went to its caller (asked) or was answered or dropped (settled). */
  asked(callId: number, delta: 1 | -1): void {
    const call = this.#calls.get(callId);
    if (call) call.asking = Math.max(0, call.asking + delta);
  }

  /** A call went upstream. */
  started(callId: number, peer: P, key: string | null): void {
    this.#calls.set(callId, { peer, key, touched: false, asking: 0 });
    if (this.#needsLane(key)) this.#lane = callId;
  }

  /** A call left the books (answered, cancelled, timed out, upstream gone); returns whether the lane freed. */
  finished(callId: number): boolean {
    const call = this.#calls.get(callId);
    if (!call) return false;
    this.#calls.delete(callId);
    if (call.key && !call.touched && !this.#knowledge.has(call.key)) this.#knowledge.set(call.key, 'quiet');
    for (const [requestId, held] of this.#held) {
      if (!held.candidates.delete(callId)) continue;
      this.#decideHeld(requestId, held);
    }
    if (this.#lane !== callId) return false;
    this.#lane = null;
    return true;
  }

  /** A server→client request arrived; `onlyPeer` is the one peer attached when no call is in flight. */
  arrived(requestId: JsonRpcId, onlyPeer: P | undefined): Attribution<P> {
    if (this.#calls.size === 0) {
      return onlyPeer !== undefined
        ? { kind: 'deliver', peer: onlyPeer, callId: undefined }
        : { kind: 'refuse', reason: 'no call is in flight and several clients are connected' };
    }
    const candidates = new Set(this.#calls.keys());
    for (const id of candidates) this.#calls.get(id)!.touched = true;
    const proven = this.#provenPeer(candidates);
    if (proven) {
      this.#learnInteractive(candidates);
      return proven;
    }
    if (this.#held.size >= (this.#options.maxHeld ?? 256)) {
      return { kind: 'refuse', reason: 'too many requests are already waiting for their origin to become provable' };
    }
    const cancelTimer = this.#schedule(() => this.#expire(requestId), this.#options.holdMs);
    this.#held.set(requestId, { candidates, cancelTimer });
    return { kind: 'hold' };
  }

  /** The upstream withdrew a request it sent (notifications/cancelled): forget it if held. */
  withdrawn(requestId: JsonRpcId): boolean {
    const held = this.#held.get(requestId);
    if (!held) return false;
    held.cancelTimer();
    this.#held.delete(requestId);
    return true;
  }

  /** The upstream went away: nothing held can be answered, no call is in flight. */
  clear(): void {
    for (const held of this.#held.values()) held.cancelTimer();
    this.#held.clear();
    this.#calls.clear();
    this.#lane = null;
  }

  #needsLane(key: string | null): boolean {
    return key !== null && this.#knowledge.get(key) !== 'quiet';
  }

  /** The only peer among these calls, with one of its calls, or null when several peers have calls. */
  #provenPeer(candidates: Set<number>): { kind: 'deliver'; peer: P; callId: number } | null {
    let found: { kind: 'deliver'; peer: P; callId: number } | null = null;
    for (const id of candidates) {
      const peer = this.#calls.get(id)!.peer;
      if (!found) found = { kind: 'deliver', peer, callId: id };
      else if (found.peer !== peer) return null;
    }
    return found;
  }

  /** Decided once the remaining candidates belong to one peer (before the last of them can finish). */
  #decideHeld(requestId: JsonRpcId, held: Held): void {
    const proven = this.#provenPeer(held.candidates);
    if (!proven) return;
    this.#learnInteractive(held.candidates);
    this.#drop(requestId, held);
    this.#options.onDecided(requestId, proven);
  }

  #expire(requestId: JsonRpcId): void {
    const held = this.#held.get(requestId);
    if (!held) return;
    this.#held.delete(requestId);
    // Any of them may be the one that asks: serialise them all from now on.
    this.#learnInteractive(held.candidates);
    const seconds = Math.round(this.#options.holdMs / 1000);
    this.#options.onDecided(requestId, { kind: 'refuse', reason: `calls of other clients were still in flight after ${seconds}s` });
  }

  #drop(requestId: JsonRpcId, held: Held): void {
    held.cancelTimer();
    this.#held.delete(requestId);
  }

  #learnInteractive(callIds: Iterable<number>): void {
    for (const id of callIds) {
      const key = this.#calls.get(id)?.key;
      if (key) this.#knowledge.set(key, 'interactive');
    }
  }
}
