import type { Logger } from './logger.ts';

/**
 * A rejected promise nobody handled is a bug in one request's path (a callback answering a call, a
 * timer's work): logged loudly, not fatal. Node's default would end the process, and with it every
 * teammate's sessions and calls, for one request's fault. An uncaught exception still ends it (the
 * state it interrupted may be half-changed); the supervisor (or the container's restart policy)
 * brings the host back. For the processes that run a host: host-main.ts and `serve --container`.
 */
export function logUnhandledRejections(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    const err = reason instanceof Error ? { message: reason.message, stack: reason.stack } : { message: String(reason) };
    log.error({ err }, 'unhandled rejection (a bug in Harbor): logged, the host carries on');
  });
}
