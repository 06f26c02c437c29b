import type { JsonRpcId, JsonRpcRequest } from './jsonrpc.ts';
import { scheduleUnref, type Schedule } from './unref-timer.ts';

/** A client's call sent upstream under a gateway id, until its answer, a cancel, a timeout or the upstream's end. */
export interface InFlightCall<P> {
  session: P;
  originalId: JsonRpcId;
  method: string;
  tool: string | undefined;
  /** Clock of `now`. */
  startedAt: number;
  originalProgressToken: JsonRpcId | undefined;
  /** Set when the answer should be kept in the tool-result cache. */
  cacheKey: string | null;
  /** The client's request as received, for a replay after a planned restart. */
  request: JsonRpcRequest;
  /** This is already the replay of a call: it is not replayed twice. */
  replayed: boolean;
}

export interface IdSpaceOptions {
  /** How long a call may stay in flight; then `onTimeout` gets its gateway id (still booked). */
  timeoutMs: number;
  onTimeout: (gatewayId: number) => void;
  /** A call left the books (answered, cancelled, timed out, upstream gone). */
  onFinished?: (gatewayId: number) => void;
  now?: () => number;
  schedule?: Schedule;
}

/**
 * The gateway's id space on one upstream: client ids (which collide between sessions) become
 * gateway-unique numbers, and so do progress tokens, so an answer or a progress notification routes
 * back to the session that asked. Harbor's own requests and server→client requests draw their ids from
 * the same counter (`next()`), so no two things in flight on an upstream share an id.
 *
 * A client that reuses an id still in flight keeps both calls booked, but only the newer one is found
 * by its client id (cancel); the first answer to arrive unbooks that client id. As it always was.
 */
export class IdSpace<P> {
  #nextId = 1;
  /** Map order is insertion order: the first call is the oldest. */
  readonly #calls = new Map<number, InFlightCall<P> & { cancelTimer: () => void }>();
  /** Per session with calls in flight: client id → gateway id. */
  readonly #bySession = new Map<P, Map<JsonRpcId, number>>();
  readonly #options: IdSpaceOptions;
  readonly #now: () => number;
  readonly #schedule: Schedule;

  constructor(options: IdSpaceOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#schedule = options.schedule ?? scheduleUnref;
  }

  get size(): number {
    return this.#calls.size;
  }

  next(): number {
    return this.#nextId++;
  }

  /** Books a call; returns the request to send upstream, its id and progress token rewritten to one new gateway id. */
  open(session: P, request: JsonRpcRequest, cacheKey: string | null, replayed: boolean): JsonRpcRequest & { id: number } {
    const gatewayId = this.next();
    let params = request.params;
    let originalProgressToken: JsonRpcId | undefined;
    const meta = params?._meta as Record<string, unknown> | undefined;
    if (meta && meta.progressToken !== undefined) {
      originalProgressToken = meta.progressToken as JsonRpcId;
      params = { ...params, _meta: { ...meta, progressToken: gatewayId } };
    }
    const cancelTimer = this.#schedule(() => this.#options.onTimeout(gatewayId), this.#options.timeoutMs);
    const tool = request.method === 'tools/call' ? (request.params?.name as string) : undefined;
    this.#calls.set(gatewayId, { session, originalId: request.id, method: request.method, tool, startedAt: this.#now(), originalProgressToken, cacheKey, request, replayed, cancelTimer });
    let ids = this.#bySession.get(session);
    if (!ids) this.#bySession.set(session, (ids = new Map()));
    ids.set(request.id, gatewayId);
    const forwarded: JsonRpcRequest & { id: number } = { jsonrpc: '2.0', id: gatewayId, method: request.method };
    if (params) forwarded.params = params;
    return forwarded;
  }

  /** Unbooks a call; returns it if it was still in flight. */
  finish(gatewayId: number): InFlightCall<P> | undefined {
    const entry = this.#calls.get(gatewayId);
    if (!entry) return undefined;
    entry.cancelTimer();
    this.#calls.delete(gatewayId);
    const ids = this.#bySession.get(entry.session);
    ids?.delete(entry.originalId);
    if (ids?.size === 0) this.#bySession.delete(entry.session);
    this.#options.onFinished?.(gatewayId);
    return entry;
  }

  get(gatewayId: number): InFlightCall<P> | undefined {
    return this.#calls.get(gatewayId);
  }

  /** The gateway id of a session's call in flight, by the client's own id. */
  gatewayId(session: P, clientId: JsonRpcId): number | undefined {
    return this.#bySession.get(session)?.get(clientId);
  }

  /** Whether a session has calls in flight (O(1), no allocation: asked on every detach). */
  hasCalls(session: P): boolean {
    return this.#bySession.has(session);
  }

  /** Gateway ids of a session's calls in flight. */
  callsOf(session: P): number[] {
    return [...(this.#bySession.get(session)?.values() ?? [])];
  }

  /** Every gateway id in flight, oldest first. */
  ids(): number[] {
    return [...this.#calls.keys()];
  }

  /** When the oldest call in flight was sent, or null when none is. */
  oldestStartedAt(): number | null {
    return this.#calls.values().next().value?.startedAt ?? null;
  }

  /** Where an upstream progress notification goes: the call whose rewritten token it carries, with the client's own token. */
  progressTarget(token: unknown): { session: P; originalId: JsonRpcId; progressToken: JsonRpcId } | undefined {
    if (typeof token !== 'number') return undefined;
    const entry = this.#calls.get(token);
    if (!entry || entry.originalProgressToken === undefined) return undefined;
    return { session: entry.session, originalId: entry.originalId, progressToken: entry.originalProgressToken };
  }

  /**
   * The one session with calls in flight, with the client id of one of them; null when several have
   * calls, undefined when none has.
   */
  soleCaller(): { session: P; relatedId: JsonRpcId } | null | undefined {
    if (this.#bySession.size > 1) return null;
    const only = this.#bySession.entries().next().value;
    return only ? { session: only[0], relatedId: only[1].keys().next().value! } : undefined;
  }
}
