import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** Longest line kept whole; a child that writes megabytes without a newline must not grow our memory with it. */
export const defaultMaxLineLength = 16 * 1024;

/**
 * Calls `onLine` for each line `stream` yields (without the `\n` or `\r\n`), splitting overlong lines into
 * `maxLineLength` pieces. Multi-byte characters split across chunks are decoded correctly.
 */
export function forEachLine(
  stream: Readable,
  onLine: (line: string) => void,
  maxLineLength: number = defaultMaxLineLength,
): void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const emit = (raw: string): void => {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    while (line.length > maxLineLength) {
      onLine(line.slice(0, maxLineLength));
      line = line.slice(maxLineLength);
    }
    onLine(line);
  };
  const take = (text: string): void => {
    pending += text;
    let start = 0;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      emit(pending.slice(start, newline));
      start = newline + 1;
      newline = pending.indexOf('\n', start);
    }
    pending = pending.slice(start);
    while (pending.length > maxLineLength) {
      onLine(pending.slice(0, maxLineLength));
      pending = pending.slice(maxLineLength);
    }
  };
  stream.on('data', (chunk: Buffer | string) => take(typeof chunk === 'string' ? chunk : decoder.write(chunk)));
  stream.on('end', () => {
    take(decoder.end());
    if (pending.length > 0) emit(pending);
    pending = '';
  });
  // A pipe error (the child died mid-write) ends the stream; it must not become an unhandled 'error'.
  stream.on('error', () => {});
}
