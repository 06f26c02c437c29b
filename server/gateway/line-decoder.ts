/**
 * Splits a byte stream into newline-delimited JSON-RPC lines (the MCP stdio framing) without
 * re-scanning earlier chunks.
 */
export class LineDecoder {
  #pending = '';
  readonly #maxLineBytes: number;

  constructor(maxLineBytes = 64 * 1024 * 1024) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Returns the complete lines in this chunk; an oversized partial line is dropped and reported. */
  push(chunk: string, onOverflow?: (bytes: number) => void): string[] {
    const text = this.#pending + chunk;
    const lines = text.split('\n');
    this.#pending = lines.pop() ?? '';
    if (this.#pending.length > this.#maxLineBytes) {
      onOverflow?.(this.#pending.length);
      this.#pending = '';
    }
    const out: string[] = [];
    for (const line of lines) {
      const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (trimmed.length > 0) out.push(trimmed);
    }
    return out;
  }

  reset(): void {
    this.#pending = '';
  }
}
