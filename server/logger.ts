import { pino, type Logger } from 'pino';
import { backoffDelay, logRetryDelay } from './supervision/backoff.ts';

export type { Logger };

/**
 * Tokens must never reach a log line: headers and any field named like a secret are censored at the
 * serializer, so a careless `log.info({ req })` cannot leak one.
 */
const REDACT = [
  'authorization',
  'token',
  'secret',
  '*.authorization',
  '*.token',
  '*.secret',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface LoggerOptions {
  level?: string;
  /** File to append to; stderr when absent. */
  /** Without a file: stdout instead of stderr (container mode: the container's log is its stdout). */
  stdout?: boolean;
  file?: string;
  name?: string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.HARBOR_LOG_LEVEL ?? 'info';
  const name = options.name ?? 'harbor';
  const destination = resilient(
    options.file ? pino.destination({ dest: options.file, mkdir: true, sync: false, maxLength: MAX_BUFFERED_BYTES }) : pino.destination({ dest: options.stdout ? 1 : 2, maxLength: MAX_BUFFERED_BYTES }),
    name,
  );
  return pino({ level, name, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

/** What a destination holds while its file or pipe refuses writes; beyond it lines are dropped and counted. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

type Destination = ReturnType<typeof pino.destination>;

/**
 * A failed write (ENOSPC, EPIPE) must not end the process: an unhandled 'error' event would. sonic-boom
 * keeps the failed buffer and tries it again with the next line it accepts; once its bound is reached
 * it accepts none, so a timer retries (an empty write is sonic-boom's public way to restart writing) after
 * a growing delay (logRetryDelay), and a file that could not be opened is reopened the same way. Logging thus resumes by
 * itself when space returns. Lines that did not fit in the bound meanwhile are counted, and the count is
 * logged with the first write that works again.
 */
function resilient(destination: Destination, name: string): Destination {
  let dropped = 0;
  let attempt = 0;
  let retry: NodeJS.Timeout | null = null;
  // Fields sonic-boom keeps on the instance (its typings leave them out).
  const state = destination as unknown as { fd: number; file: string | null; destroyed: boolean };
  destination.on('error', () => {
    if (retry) return;
    retry = setTimeout(() => {
      retry = null;
      if (state.destroyed) return;
      if (state.fd < 0 && state.file) destination.reopen();
      else destination.write('');
    }, backoffDelay(attempt++, logRetryDelay));
    retry.unref();
  });
  destination.on('ready', () => {
    attempt = 0;
  });
  // pino flushes synchronously at exit; a disk still full then loses those lines, it must not throw in 'exit'.
  const flushSync = destination.flushSync.bind(destination);
  destination.flushSync = () => {
    try {
      flushSync();
    } catch {
      // nothing left to do with the lines: the process is ending
    }
  };
  let noting = false;
  let noteDropped = false;
  destination.on('drop', (data: string | Buffer) => {
    if (noting) noteDropped = true;
    else dropped += Math.max(1, String(data).split('\n').length - 1);
  });
  destination.on('write', () => {
    attempt = 0;
    if (dropped === 0) return;
    const count = dropped;
    const note = { level: 40, time: Date.now(), pid: process.pid, name, msg: `${count} log lines dropped: the log could not be written` };
    // Inside 'write' the stream is mid-write: this line is queued behind the one just written, never recursive.
    // A note that did not fit in the bound itself keeps its count for the next write.
    noting = true;
    noteDropped = false;
    destination.write(JSON.stringify(note) + '\n');
    noting = false;
    if (!noteDropped) dropped -= count;
  });
  return destination;
}

/** A logger that drops everything, for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
