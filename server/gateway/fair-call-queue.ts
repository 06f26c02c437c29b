/**
 * The line in front of a hosted server: at most `maxConcurrent` calls run, at most `maxQueued` wait,
 * and the waiting ones start round-robin across keys (teammates), first-in first-out within a key.
 * One teammate's burst of 20 calls waits in that teammate's own line; a second teammate's single call
 * starts at the next free slot, not after the 20.
 *
 * Written by hand rather than with p-queue (installed, used by the embeddings client): p-queue has one
 * FIFO with priorities, so fairness per teammate would take a queue per teammate plus a scheduler
 * between them, which is this module; and a queued call here must be removable by its JSON-RPC id
 * (notifications/cancelled, a session that ends) and re-queued at the front of its line (a retry after
 * a rate limit), which a promise-per-task queue does not offer without wrapping every task.
 */

export interface FairCallQueueOptions<T> {
  /** Calls running at once (Infinity: no cap). */
  maxConcurrent: number;
  /** Calls waiting at once; `submit` refuses beyond it. */
  maxQueued: number;
  /** Starts one call; the caller later calls `release()` exactly once for it. */
  start: (item: T, waitedMs: number) => void;
  /** False while nothing can start (e.g. every upstream copy is resting); `pump()` resumes. */
  canStart?: () => boolean;
  now?: () => number;
}

export interface FairCallQueueStats {
  queued: number;
  running: number;
  maxConcurrent: number | null;
  maxQueued: number;
  /** Teammates with calls waiting. */
  waitingKeys: number;
  /** 95th percentile of the last WAIT_SAMPLES waits before a start, ms; null before any start. */
  waitP95Ms: number | null;
}

interface Waiting<T> {
  item: T;
  at: number;
}

/** Recent waits kept for the p95 shown in status (the metrics registry keeps the real histogram). */
const WAIT_SAMPLES = 256;

export class FairCallQueue<T> {
  /** Lines by key; Map order is the round-robin order (a key served moves to the back). */
  readonly #lines = new Map<string, Waiting<T>[]>();
  readonly #options: FairCallQueueOptions<T>;
  readonly #now: () => number;
  readonly #waits: number[] = [];
  #waitCursor = 0;
  #queued = 0;
  #running = 0;

  constructor(options: FairCallQueueOptions<T>) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  get queued(): number {
    return this.#queued;
  }

  get running(): number {
    return this.#running;
  }

  /** Starts the call now or lines it up; false when the line is full (nothing was kept). */
  submit(key: string, item: T): boolean {
    if (this.#queued === 0 && this.#hasSlot()) {
      this.#begin(item, 0);
      return true;
    }
    if (this.#queued >= this.#options.maxQueued) return false;
    this.#line(key).push({ item, at: this.#now() });
    this.#queued++;
    this.pump();
    return true;
  }

  /** Puts a call back at the front of its key's line (a retry): allowed past `maxQueued`, it was already admitted. */
  requeue(key: string, item: T): void {
    this.#line(key).unshift({ item, at: this.#now() });
    this.#queued++;
    this.pump();
  }

  /** A started call ended (answered, cancelled, failed): its slot goes to the next in line. */
  release(): void {
    if (this.#running > 0) this.#running--;
    this.pump();
  }

  /** Removes and returns the waiting calls of `key` that `match` picks (cancellation, a session that ended). */
  remove(key: string, match: (item: T) => boolean): T[] {
    const line = this.#lines.get(key);
    if (!line) return [];
    const removed: T[] = [];
    const kept = line.filter((w) => (match(w.item) ? (removed.push(w.item), false) : true));
    this.#queued -= removed.length;
    if (kept.length === 0) this.#lines.delete(key);
    else if (removed.length > 0) this.#lines.set(key, kept);
    return removed;
  }

  /** Removes every waiting call (the server closes). */
  clear(): T[] {
    const all = [...this.#lines.values()].flatMap((line) => line.map((w) => w.item));
    this.#lines.clear();
    this.#queued = 0;
    return all;
  }

  /** Starts waiting calls while slots are free, one per key in turn. */
  pump(): void {
    while (this.#queued > 0 && this.#hasSlot()) {
      const [key, line] = this.#lines.entries().next().value!;
      const next = line.shift()!;
      this.#queued--;
      this.#lines.delete(key);
      if (line.length > 0) this.#lines.set(key, line); // to the back: the next key goes first
      this.#begin(next.item, this.#now() - next.at);
    }
  }

  stats(): FairCallQueueStats {
    return {
      queued: this.#queued,
      running: this.#running,
      maxConcurrent: Number.isFinite(this.#options.maxConcurrent) ? this.#options.maxConcurrent : null,
      maxQueued: this.#options.maxQueued,
      waitingKeys: this.#lines.size,
      waitP95Ms: percentile(this.#waits, 0.95),
    };
  }

  #hasSlot(): boolean {
    return this.#running < this.#options.maxConcurrent && (this.#options.canStart?.() ?? true);
  }

  #line(key: string): Waiting<T>[] {
    let line = this.#lines.get(key);
    if (!line) {
      line = [];
      this.#lines.set(key, line);
    }
    return line;
  }

  #begin(item: T, waitedMs: number): void {
    this.#running++;
    if (this.#waits.length < WAIT_SAMPLES) this.#waits.push(waitedMs);
    else this.#waits[this.#waitCursor] = waitedMs;
    this.#waitCursor = (this.#waitCursor + 1) % WAIT_SAMPLES;
    this.#options.start(item, waitedMs);
  }
}

/** Nearest-rank percentile of a small sample (sorted on demand: status only, never per call). */
function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
}
