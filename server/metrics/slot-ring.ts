/**
 * Counts kept per time slot in a fixed ring, so a rolling window costs one array index per event
 * and forgets old data without timers: a slot is zeroed lazily when the clock comes back round to it.
 *
 * The window is `slots × slotMs` ending at the current (partial) slot, so a 10 × 30 s ring covers
 * between 4.5 and 5 minutes of history depending on where in the current slot "now" falls.
 */
export interface SlotRingOptions {
  /** Width of one slot in milliseconds. */
  slotMs: number;
  /** Number of slots in the ring; the window is slots × slotMs. */
  slots: number;
}

export const fiveMinuteRing: SlotRingOptions = { slotMs: 30_000, slots: 10 };

export class SlotRing {
  readonly slotMs: number;
  readonly slots: number;
  /** Counters per slot (`columns` wide, slot-major). */
  readonly #counts: Float64Array;
  /** Which slot number (floor(t / slotMs)) each ring position currently holds; -1 = never used. */
  readonly #epochs: Float64Array;
  readonly columns: number;

  constructor(columns: number, options: SlotRingOptions = fiveMinuteRing) {
    if (!(options.slotMs > 0) || !Number.isInteger(options.slots) || options.slots < 1) {
      throw new RangeError('slot ring needs slotMs > 0 and an integer slots >= 1');
    }
    this.slotMs = options.slotMs;
    this.slots = options.slots;
    this.columns = columns;
    this.#counts = new Float64Array(columns * options.slots);
    this.#epochs = new Float64Array(options.slots).fill(-1);
  }

  /** Adds `n` to one column of the slot that holds `now`. */
  add(column: number, now: number, n = 1): void {
    const epoch = Math.floor(now / this.slotMs);
    const position = epoch % this.slots;
    if (this.#epochs[position] !== epoch) {
      // A clock that went backwards by more than a slot lands here too: the old slot is overwritten
      // rather than mixed with data from another time.
      this.#counts.fill(0, position * this.columns, (position + 1) * this.columns);
      this.#epochs[position] = epoch;
    }
    this.#counts[position * this.columns + column]! += n;
  }

  /**
   * Sums every column over the slots inside the window ending at `now` into `out` (reused by the
   * caller to avoid an allocation per read). Returns the grand total.
   */
  sumInto(out: Float64Array, now: number): number {
    out.fill(0);
    const current = Math.floor(now / this.slotMs);
    let total = 0;
    for (let position = 0; position < this.slots; position++) {
      const age = current - this.#epochs[position]!;
      if (this.#epochs[position]! < 0 || age < 0 || age >= this.slots) continue;
      const base = position * this.columns;
      for (let column = 0; column < this.columns; column++) {
        const value = this.#counts[base + column]!;
        out[column]! += value;
        total += value;
      }
    }
    return total;
  }

  /** True when no slot inside the window ending at `now` holds data, so the owner may drop the ring. */
  isIdle(now: number): boolean {
    const current = Math.floor(now / this.slotMs);
    for (let position = 0; position < this.slots; position++) {
      const epoch = this.#epochs[position]!;
      if (epoch >= 0 && current - epoch >= 0 && current - epoch < this.slots) return false;
    }
    return true;
  }
}
