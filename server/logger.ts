import { pino, type Logger } from 'pino';

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
  const destination = options.file
    ? pino.destination({ dest: options.file, mkdir: true, sync: false })
    : pino.destination(options.stdout ? 1 : 2);
  return pino({ level, name: options.name ?? 'harbor', redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

/** A logger that drops everything, for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
