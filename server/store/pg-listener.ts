import type pg from 'pg';
import { silentLogger, type Logger } from '../logger.ts';
import { backoffDelay, type BackoffOptions } from '../supervision/backoff.ts';
import { connectPostgres } from './postgres-database.ts';

export interface PgListenOptions {
  url: string;
  channel: string;
  /** Each NOTIFY on the channel, with its payload. */
  onNotify: (payload: string) => void;
  /**
   * After a (re)connection: notifications sent while the connection was down are lost, so the owner
   * reloads what it keeps in memory. Called once after the first connection too.
   */
  onConnected: () => void;
  log?: Logger;
  retry?: BackoffOptions;
}

export interface PgListener {
  /** Settles once the first LISTEN is in place (or failed: it keeps retrying in the background). */
  readonly ready: Promise<void>;
  readonly connected: boolean;
  close(): Promise<void>;
}

const DEFAULT_RETRY: BackoffOptions = { initialMs: 200, factor: 2, maxMs: 5000 };

/**
 * LISTEN on one channel over a dedicated connection (a pooled one would be handed to other queries),
 * reconnecting after a growing delay when PostgreSQL goes away.
 */
export function listenPostgres(options: PgListenOptions): PgListener {
  const log = options.log ?? silentLogger;
  const retry = options.retry ?? DEFAULT_RETRY;
  if (!/^[a-z_][a-z0-9_]*$/.test(options.channel)) throw new Error(`not a plain channel name: ${options.channel}`);
  let client: pg.Client | null = null;
  let closed = false;
  let connected = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const scheduleReconnect = () => {
    if (closed || timer) return;
    const delay = backoffDelay(failures++, retry);
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
    timer.unref();
  };

  const connect = async (): Promise<void> => {
    const next = connectPostgres(options.url);
    client = next;
    const lost = (error?: Error) => {
      if (client !== next) return;
      client = null;
      if (connected) log.warn({ channel: options.channel, err: error?.message }, 'lost the PostgreSQL notification connection; reconnecting');
      connected = false;
      next.end().catch(() => {});
      scheduleReconnect();
    };
    next.on('error', lost);
    next.on('end', () => lost());
    next.on('notification', (message) => {
      if (message.channel === options.channel) options.onNotify(message.payload ?? '');
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${options.channel}`);
    } catch (error) {
      lost(error as Error);
      return;
    }
    if (closed) {
      await next.end().catch(() => {});
      return;
    }
    connected = true;
    if (failures > 0) log.info({ channel: options.channel, attempts: failures }, 'PostgreSQL notifications back');
    failures = 0;
    options.onConnected();
  };

  const ready = connect();
  return {
    ready,
    get connected() {
      return connected;
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      const current = client;
      client = null;
      connected = false;
      await current?.end().catch(() => {});
    },
  };
}
