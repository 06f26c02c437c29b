import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { AdminStatusError } from '../admin/admin-api.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { LogLine } from '../supervision/rotating-log.ts';
import { parseLogFileLine } from '../supervision/log-file-line.ts';

/** A hosted server's lines (every copy's, or one copy's): null for no such server, a 404 for no such copy. */
export function serverLogTail(hosted: HostedServer | undefined, lines: number, copy: number | undefined): LogLine[] | null {
  if (!hosted) return null;
  const problem = copy === undefined ? null : hosted.copyProblem(copy);
  if (problem) throw new AdminStatusError(problem, 404);
  return hosted.logTail(lines, copy);
}

/** The host's own log: one process, so copy 0 at most; another copy is a 404, as on a one-process server. */
export function hostLogTail(file: string, lines: number, copy: number | undefined): ReturnType<typeof tailFile> {
  if (copy !== undefined && copy > 0) throw new AdminStatusError(`the host runs 1 process (copy 0); there is no copy ${copy}`, 404);
  return tailFile(file, lines);
}

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
