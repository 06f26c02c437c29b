import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { parseLogFileLine } from '../supervision/log-file-line.ts';

/** The last lines of a log file the supervisor above this process writes (bounded: 1 MiB read). */
export function tailFile(file: string, lines: number): Array<{ at: number; stream: string; line: string }> {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    const length = Math.min(size, 1024 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    closeSync(fd);
    return buffer
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .slice(-lines)
      .map(parseLogFileLine);
  } catch {
    return [];
  }
}
