/** Teammates whose use counts wait for the store, coalesced per teammate; beyond it new names are counted as lost. */
export const MAX_PENDING_USAGE = 10_000;

export interface PendingUse {
  at: number;
  calls: number;
}

/**
 * Use counts (last used, calls) gathered in memory and written in batches: recording a call is a map
 * update on the request path, never a write. Bounded, so a store that refuses writes for long costs
 * a fixed amount of memory and a count of what was lost.
 */
export class UsageBacklog {
  readonly #pending = new Map<string, PendingUse>();
  #dropped = 0;

  add(name: string, now: number): void {
    const pending = this.#pending.get(name);
    if (pending) {
      pending.at = Math.max(pending.at, now);
      pending.calls++;
    } else if (this.#pending.size >= MAX_PENDING_USAGE) this.#dropped++;
    else this.#pending.set(name, { at: now, calls: 1 });
  }

  /** A copy of what waits, to write; `written()` forgets it once the write committed. */
  snapshot(): Array<[string, PendingUse]> {
    return [...this.#pending].map(([name, use]) => [name, { ...use }]);
  }

  /** Forgets what a committed write carried; uses recorded meanwhile stay pending. */
  written(entries: ReadonlyArray<[string, PendingUse]>): void {
    for (const [name, use] of entries) {
      const now = this.#pending.get(name);
      if (!now) continue;
      now.calls -= use.calls;
      if (now.calls <= 0) this.#pending.delete(name);
    }
  }

  get(name: string): PendingUse | undefined {
    return this.#pending.get(name);
  }

  /** The teammate as listed: stored counts plus what still waits to be written. */
  addPendingTo<T extends { name: string; calls: number; lastUsedAt: number | null }>(teammate: T): T {
    const use = this.#pending.get(teammate.name);
    if (use) {
      teammate.calls += use.calls;
      teammate.lastUsedAt = Math.max(teammate.lastUsedAt ?? 0, use.at);
    }
    return teammate;
  }

  get size(): number {
    return this.#pending.size;
  }

  get calls(): number {
    let calls = 0;
    for (const use of this.#pending.values()) calls += use.calls;
    return calls;
  }

  get dropped(): number {
    return this.#dropped;
  }
}
