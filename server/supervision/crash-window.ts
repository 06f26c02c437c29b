/**
 * Sliding window of crash times, the crash-loop rule of DESIGN.md §5: more than `maxCrashes` crashes within
 * `windowMs` means the child is crash-looping (PM2 counts quick crashes forever; a window forgives old ones).
 */
export interface CrashWindowOptions {
  maxCrashes: number;
  windowMs: number;
}

export const defaultCrashWindow: CrashWindowOptions = { maxCrashes: 10, windowMs: 60_000 };

export class CrashWindow {
  readonly options: CrashWindowOptions;
  #times: number[] = [];

  constructor(options: CrashWindowOptions = defaultCrashWindow) {
    this.options = options;
  }

  /** Records a crash at `at` and returns how many crashes fall inside the window ending at `at`. */
  record(at: number): number {
    this.#times.push(at);
    return this.count(at);
  }

  /** Crashes within the window ending at `now`; older ones are forgotten so the list stays bounded. */
  count(now: number): number {
    const from = now - this.options.windowMs;
    while (this.#times.length > 0 && (this.#times[0] as number) <= from) this.#times.shift();
    return this.#times.length;
  }

  isLooping(now: number): boolean {
    return this.count(now) > this.options.maxCrashes;
  }

  clear(): void {
    this.#times = [];
  }
}
