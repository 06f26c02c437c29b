import { randomUUID } from 'node:crypto';

export interface PendingCallsOptions<T> {
  /** How long a call may wait for its caller's input; five minutes by default (see DEFAULT_INPUT_TTL_MS). */
  ttlMs?: number;
  /** Bound on calls waiting at once; a new one beyond it is refused (the call fails cleanly). */
  maxEntries?: number;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
  /** Runs once for each call whose time ran out (not for calls taken or removed). */
  onExpire?: (value: T, id: string) => void;
}

/**
 * Five minutes: long enough for a person to answer an elicitation form, short enough that an
 * abandoned call does not hold an upstream request (and its process's memory) for long. The upstream's
 * pending server→client requests get an error when it runs out.
 */
export const DEFAULT_INPUT_TTL_MS = 5 * 60_000;

interface Slot<T> {
  value: T;
  expiresAt: number;
}

/**
 * Upstream calls parked between the rounds of an `input_required` exchange, by id, each with an
 * expiry. Expiry is checked on every read and by sweep(); nothing here owns a timer, so tests drive
 * the clock (startSweeping() gives production a bounded periodic sweep).
 */
export class PendingCalls<T> {
  readonly #slots = new Map<string, Slot<T>>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #onExpire: (value: T, id: string) => void;

  constructor(options: PendingCallsOptions<T> = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_INPUT_TTL_MS;
    this.#max = options.maxEntries ?? 1000;
    this.#now = options.now ?? Date.now;
    this.#onExpire = options.onExpire ?? (() => {});
  }

  get size(): number {
    return this.#slots.size;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Parks a value; returns its id and expiry, or null when the table is full. */
  add(value: T): { id: string; expiresAt: number } | null {
    this.sweep();
    if (this.#slots.size >= this.#max) return null;
    const id = randomUUID();
    const expiresAt = this.#now() + this.#ttlMs;
    this.#slots.set(id, { value, expiresAt });
    return { id, expiresAt };
  }

  /** The value, if still waiting; an expired one is expired now (onExpire runs) and not returned. */
  get(id: string): T | undefined {
    const slot = this.#slots.get(id);
    if (!slot) return undefined;
    if (this.#now() >= slot.expiresAt) {
      this.#expire(id, slot);
      return undefined;
    }
    return slot.value;
  }

  /** Gives a waiting call a fresh expiry (a new round began); returns the new expiry. */
  renew(id: string): number | undefined {
    if (this.get(id) === undefined) return undefined;
    const expiresAt = this.#now() + this.#ttlMs;
    this.#slots.get(id)!.expiresAt = expiresAt;
    return expiresAt;
  }

  /** Forgets a call without expiring it (it finished, or its caller went away). */
  delete(id: string): boolean {
    return this.#slots.delete(id);
  }

  /** The calls still waiting (expired ones included until the next sweep or read). */
  *values(): IterableIterator<T> {
    for (const slot of this.#slots.values()) yield slot.value;
  }

  /** Expires every call past its time. */
  sweep(): number {
    const now = this.#now();
    let expired = 0;
    for (const [id, slot] of this.#slots) {
      if (now < slot.expiresAt) continue;
      this.#expire(id, slot);
      expired++;
    }
    return expired;
  }

  /** A periodic sweep for production (unref'd); returns its stop function. */
  startSweeping(intervalMs = 10_000): () => void {
    const timer = setInterval(() => this.sweep(), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  #expire(id: string, slot: Slot<T>): void {
    this.#slots.delete(id);
    this.#onExpire(slot.value, id);
  }
}
