/** Per-token cap on concurrent MCP sessions (DESIGN.md section 4), so one teammate cannot exhaust the host. */

export interface SessionCapOptions {
  maxPerKey?: number;
}

export type AcquireResult = { ok: true } | { ok: false; limit: number };

export class SessionCap {
  readonly maxPerKey: number;
  readonly #byKey = new Map<string, Set<string>>();
  readonly #keyOf = new Map<string, string>();

  constructor(options: SessionCapOptions = {}) {
    this.maxPerKey = options.maxPerKey ?? 10;
    if (!(this.maxPerKey >= 1)) throw new RangeError('maxPerKey must be at least 1');
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
    if (sessions.size >= this.maxPerKey) return { ok: false, limit: this.maxPerKey };
    sessions.add(sessionId);
    this.#byKey.set(key, sessions);
    this.#keyOf.set(sessionId, key);
    return { ok: true };
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
