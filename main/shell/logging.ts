import log from 'electron-log/main';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';

/**
 * The app's own log: electron-log v5 to `<logs>/main.log`, rotated at 5 MB (one `main.old.log` kept).
 * The core modules take a pino Logger; theirs is bridged into the same file, already redacted by pino.
 * (The host child and cloudflared write their own rotated logs under $HARBOR_HOME/logs.)
 */
const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = { 60: 'error', 50: 'error', 40: 'warn', 30: 'info', 20: 'debug', 10: 'debug' };

/** Mirrors server/logger.ts: tokens and secrets never reach a line. */
const REDACT = ['authorization', 'token', 'secret', '*.authorization', '*.token', '*.secret', 'headers.authorization', 'req.headers.authorization'];

export interface ShellLogging {
  log: typeof log;
  logger: Logger;
  file: string;
}

export function setupLogging(logsDir: string, options: { verbose?: boolean } = {}): ShellLogging {
  const file = join(logsDir, 'main.log');
  log.transports.file.resolvePathFn = () => file;
  log.transports.file.maxSize = 5 * 1024 * 1024;
  log.transports.file.level = options.verbose ? 'debug' : 'info';
  log.transports.console.level = options.verbose ? 'debug' : false;
  log.errorHandler.startCatching({ showDialog: false });

  const destination = {
    write(line: string) {
      try {
        const { level, msg, time: _time, pid: _pid, hostname: _hostname, ...fields } = JSON.parse(line) as Record<string, unknown> & { level: number; msg?: string };
        const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
        log[LEVELS[level] ?? 'info'](`${msg ?? ''}${extra}`);
      } catch {
        log.info(line.trimEnd());
      }
    },
  };
  const logger = pino({ level: options.verbose ? 'debug' : 'info', redact: { paths: REDACT, censor: '[redacted]' } }, destination);
  return { log, logger, file };
}
