/**
 * Splits a hosted server's stdout into newline-delimited lines (the MCP stdio framing) in linear
 * time, with a bound on the length of one line.
 *
 * Bytes, not text: a newline byte never occurs inside a multi-byte UTF-8 sequence, so splitting the
 * raw Buffers is exact, the limit counts real bytes, and a line is decoded once when it is complete.
 * Each chunk is searched for '\n' once and copied at most once (into its line); the bytes of a line
 * over the limit are counted and dropped as they stream, never kept.
 *
 * A line over the limit is reported twice: `oversized` the moment it crosses the limit, with its
 * first bytes (a response may name its id there, so its caller can be answered at once), and
 * `oversized-end` when its newline finally arrives, with its last bytes (the TypeScript SDK writes
 * `"id"` last) and its full length.
 */
export type DecodedLine =
  | { kind: 'line'; text: string }
  | { kind: 'oversized'; head: string; limit: number }
  | { kind: 'oversized-end'; tail: string; bytes: number };

/** How much of an oversized line is kept to look for its id: enough for any envelope's keys. */
export const PEEK_BYTES = 4096;

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

const NEWLINE = 0x0a;

/** Work done, for tests that check the decoder stays linear (bytes scanned and copied per byte received). */
export interface DecoderCounters {
  scannedBytes: number;
  copiedBytes: number;
}

export class LineDecoder {
  readonly #maxLineBytes: number;
  /** The parts of the current line so far (only while it is within the limit). */
  #parts: Buffer[] = [];
  #pendingBytes = 0;
  /** Set while the rest of an oversized line streams past: the bytes seen and its latest bytes. */
  #discarding: { bytes: number; tail: Buffer } | null = null;
  readonly counters: DecoderCounters = { scannedBytes: 0, copiedBytes: 0 };

  constructor(maxLineBytes = DEFAULT_MAX_LINE_BYTES) {
    this.#maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer): DecodedLine[] {
    const out: DecodedLine[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      this.counters.scannedBytes += (newline === -1 ? chunk.length : newline + 1) - start;
      this.#take(chunk.subarray(start, end), out);
      if (newline === -1) break;
      this.#endLine(out);
      start = newline + 1;
    }
    return out;
  }

  reset(): void {
    this.#parts = [];
    this.#pendingBytes = 0;
    this.#discarding = null;
  }

  /** Adds a piece of the current line (no newline in it). */
  #take(piece: Buffer, out: DecodedLine[]): void {
    if (piece.length === 0) return;
    if (this.#discarding) {
      this.#discarding.bytes += piece.length;
      this.#discarding.tail = lastBytes(this.#discarding.tail, piece);
      return;
    }
    if (this.#pendingBytes + piece.length <= this.#maxLineBytes) {
      this.#parts.push(piece);
      this.#pendingBytes += piece.length;
      return;
    }
    const head = Buffer.concat([...this.#parts, piece], Math.min(PEEK_BYTES, this.#pendingBytes + piece.length));
    this.#discarding = { bytes: this.#pendingBytes + piece.length, tail: lastBytes(this.#parts.at(-1) ?? Buffer.alloc(0), piece) };
    this.#parts = [];
    this.#pendingBytes = 0;
    out.push({ kind: 'oversized', head: head.toString('utf8'), limit: this.#maxLineBytes });
  }

  #endLine(out: DecodedLine[]): void {
    if (this.#discarding) {
      const { bytes, tail } = this.#discarding;
      this.#discarding = null;
      out.push({ kind: 'oversized-end', tail: tail.toString('utf8'), bytes });
      return;
    }
    const bytes = this.#pendingBytes;
    const line = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, bytes);
    if (this.#parts.length > 1) this.counters.copiedBytes += bytes;
    this.#parts = [];
    this.#pendingBytes = 0;
    let length = line.length;
    if (length > 0 && line[length - 1] === 0x0d /* \r */) length--;
    if (length > 0) out.push({ kind: 'line', text: line.toString('utf8', 0, length) });
  }
}

/** The last PEEK_BYTES of `previous` followed by `next`, copying at most PEEK_BYTES. */
function lastBytes(previous: Buffer, next: Buffer): Buffer {
  if (next.length >= PEEK_BYTES) return Buffer.from(next.subarray(next.length - PEEK_BYTES));
  const keep = previous.subarray(Math.max(0, previous.length - (PEEK_BYTES - next.length)));
  return Buffer.concat([keep, next]);
}
