/**
 * Many deadlines of one fixed delay (a modern call's switch to SSE, modern-post.ts), run by one
 * coarse timer instead of a setTimeout each: a Timeout per call was measurable garbage on the modern
 * path (bench/echo-eras.ts), and nearly every call is answered long before its deadline. The
 * trade-off: a deadline runs up to `tickMs` late. Written by hand, not a library timer wheel: with one
 * delay, insertion order is deadline order, so a Set is the whole wheel.
 */

export interface FixedDelaySweepOptions {
  delayMs: number;
  /** How often due deadlines are looked for: how late one may run. */
  tickMs: number;
  /** Milliseconds on a monotonic clock; injectable for tests. */
  now?: () => number;
  /** Starts the repeating sweep, returns its stop; injectable for tests (default: an unref'd setInterval). */
  every?: (run: () => void, ms: number) => () => void;
}

/** One pending deadline; pass it to `cancel`. */
export interface SweptDeadline {
  readonly at: number;
  readonly run: () => void;
}

const everyUnref = (run: () => void, ms: number): (() => void) => {
  const timer = setInterval(run, ms);
  timer.unref();
  return () => clearInterval(timer);
};

export class FixedDelaySweep {
  readonly #delayMs: number;
  readonly #tickMs: number;
  readonly #now: () => number;
  readonly #every: (run: () => void, ms: number) => () => void;
  /** Insertion order is deadline order (one delay, a monotonic clock). */
  readonly #due = new Set<SweptDeadline>();
  #stop: (() => void) | null = null;
  readonly #sweep = (): void => this.#runDue();

  constructor(options: FixedDelaySweepOptions) {
    this.#delayMs = options.delayMs;
    this.#tickMs = options.tickMs;
    this.#now = options.now ?? (() => performance.now());
    this.#every = options.every ?? everyUnref;
  }

  /** Runs `run` once, `delayMs` (to `delayMs + tickMs`) from now, unless cancelled first. */
  add(run: () => void): SweptDeadline {
    const deadline: SweptDeadline = { at: this.#now() + this.#delayMs, run };
    this.#due.add(deadline);
    // The sweep keeps running while deadlines come and go, and stops once a tick finds none: a busy
    // endpoint starts it once, not once per call.
    this.#stop ??= this.#every(this.#sweep, this.#tickMs);
    return deadline;
  }

  cancel(deadline: SweptDeadline): void {
    this.#due.delete(deadline);
  }

  get size(): number {
    return this.#due.size;
  }

  #runDue(): void {
    const now = this.#now();
    for (const deadline of this.#due) {
      if (deadline.at > now) break;
      this.#due.delete(deadline);
      deadline.run();
    }
    if (this.#due.size === 0) {
      this.#stop?.();
      this.#stop = null;
    }
  }
}
