/**
 * Per-token cap on concurrent MCP sessions (DESIGN.md section 4), so one teammate cannot exhaust the host.
 *
 * At the cap, a new session replaces that teammate's least recently used IDLE session rather than being
 * refused: most clients never send DELETE, so a client that reconnected a few times has left sessions
 * behind that nobody will use again, and refusing would lock a person out until the idle TTL (30 min).
 * Idle means no request in flight and no open stream (a GET stream or a streamed answer): such a
 * session costs its client nothing to lose, since its next request gets 404 and the spec has the
 * client start a new session. A busy session is never closed; when all are busy the new one is
 * refused (429), which is what stops a runaway loop.
 */

/** How a held session is doing; undefined when unknown (e.g. still initializing): never closed then. */
export interface SessionActivity {
  /** Last request or message, epoch ms. */
  lastActivity: number;
  /** A request in flight or a stream open. */
  busy: boolean;
}

export interface SessionCapOptions {
  maxPerKey?: number;
  /** Looks up a held session, to pick one to close at the cap. Without it, the cap refuses. */
  activity?: (sessionId: string) => SessionActivity | undefined;
  /** Closes the session chosen to make room; its slot is already free when this is called. */
  onEvict?: (sessionId: string) => void;
}

export type AcquireResult = { ok: true; evicted?: string } | { ok: false; limit: number };

export class SessionCap {
  readonly maxPerKey: number;
  readonly #byKey = new Map<string, Set<string>>();
  readonly #keyOf = new Map<string, string>();
  /** Set by whoever owns the sessions (the HTTP layer's registry), like SessionRegistry.onClosed. */
  activity: (sessionId: string) => SessionActivity | undefined;
  onEvict: (sessionId: string) => void;

  constructor(options: SessionCapOptions = {}) {
    this.maxPerKey = options.maxPerKey ?? 10;
    if (!(this.maxPerKey >= 1)) throw new RangeError('maxPerKey must be at least 1');
    this.activity = options.activity ?? (() => undefined);
    this.onEvict = options.onEvict ?? (() => {});
  }

  /** Counts `sessionId` against `key`. Acquiring a session already held by the same key is a no-op. */
  acquire(key: string, sessionId: string): AcquireResult {
    const holder = this.#keyOf.get(sessionId);
    if (holder !== undefined) {
      // A session id belongs to one teammate for its whole life; anything else is a routing bug.
      if (holder !== key) throw new Error('session is already held by another key');
      return { ok: true };
    }
    const sessions = this.#byKey.get(key) ?? new Set<string>();
    let evicted: string | undefined;
    if (sessions.size >= this.maxPerKey) {
      evicted = this.#leastRecentlyUsedIdle(sessions);
      if (evicted === undefined) return { ok: false, limit: this.maxPerKey };
      this.release(evicted);
    }
    sessions.add(sessionId);
    this.#byKey.set(key, sessions);
    this.#keyOf.set(sessionId, key);
    if (evicted !== undefined) {
      this.onEvict(evicted);
      return { ok: true, evicted };
    }
    return { ok: true };
  }

  /** A linear scan: the set is at most maxPerKey long, and this runs only at the cap. */
  #leastRecentlyUsedIdle(sessions: Set<string>): string | undefined {
    let oldest: { id: string; at: number } | undefined;
    for (const id of sessions) {
      const activity = this.activity(id);
      if (!activity || activity.busy) continue;
      if (!oldest || activity.lastActivity < oldest.at) oldest = { id, at: activity.lastActivity };
    }
    return oldest?.id;
  }

  /** Frees the slot of a closed session; false when it held none. */
  release(sessionId: string): boolean {
    const key = this.#keyOf.get(sessionId);
    if (key === undefined) return false;
    this.#keyOf.delete(sessionId);
    const sessions = this.#byKey.get(key);
    sessions?.delete(sessionId);
    if (sessions?.size === 0) this.#byKey.delete(key);
    return true;
  }

  count(key: string): number {
    return this.#byKey.get(key)?.size ?? 0;
  }

  /** The sessions `key` holds, e.g. to close them when its token is revoked. */
  sessions(key: string): string[] {
    return [...(this.#byKey.get(key) ?? [])];
  }

  /** Releases every session of `key` and returns their ids. */
  releaseAll(key: string): string[] {
    const ids = this.sessions(key);
    for (const id of ids) this.release(id);
    return ids;
  }

  /** Sessions held across all keys. */
  get size(): number {
    return this.#keyOf.size;
  }
}
