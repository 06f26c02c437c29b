import { silentLogger, type Logger } from '../logger.ts';
import { restartDelay, type RestartDelayOptions } from '../supervision/backoff.ts';
import type { ConnectedVia } from '../auth/connected-via.ts';
import type { SqliteDatabase } from '../store/sqlite-database.ts';
import type { AuditEntry, AuditQuery, AuditStore, StoredAuditEntry, TeammateConnection } from './audit-store.ts';
import { SqliteAuditStore } from './sqlite-audit-store.ts';

export type { AuditEntry, AuditQuery, AuditStore, StoredAuditEntry, TeammateConnection } from './audit-store.ts';
export { SqliteAuditStore } from './sqlite-audit-store.ts';

export interface AuditLogOptions {
  /** Newest entries kept (default 100,000). */
  maxRows?: number;
  /** Entries older than this are deleted (default 30 days). */
  maxAgeMs?: number;
  /** Pending entries are written at least this often (default 1 s). */
  flushIntervalMs?: number;
  /** ...or as soon as this many are pending (default 500). */
  batchSize?: number;
  /** How often old entries are deleted (default 10 min). */
  pruneIntervalMs?: number;
  /** Entries held in memory while the store is slow or failing; beyond it the oldest are dropped (default 10,000). */
  maxPending?: number;
  /** Delay before writing again after a failed write (a full disk), growing while it keeps failing. */
  retry?: RestartDelayOptions;
  /** Epoch milliseconds, for `at` defaults and age pruning. */
  now?: () => number;
  logger?: Logger;
}

export type AuditInput = Omit<AuditEntry, 'at'> & { at?: number };

const DAY_MS = 24 * 60 * 60 * 1000;
/** 1 s, 2 s, 4 s … 10 s: a full disk costs one failed transaction per attempt, and freed space is used within 10 s. */
const DEFAULT_RETRY: RestartDelayOptions = { initialMs: 1000, factor: 2, maxMs: 10_000, resetAfterMs: 0 };
const MAX_ERROR_CHARS = 1000;
const MAX_NAME_CHARS = 256;

function isAuditStore(target: unknown): target is AuditStore {
  const t = target as Partial<AuditStore>;
  return typeof t.append === 'function' && typeof t.query === 'function' && typeof t.prune === 'function';
}

function clip(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

/** A sign-in's client name is the client's own claim (its registration): bounded like every name here. */
function clipVia(via: ConnectedVia): ConnectedVia {
  return via.kind === 'token' ? { kind: 'token', token: clip(via.token, MAX_NAME_CHARS) } : { kind: 'sign-in', client: clip(via.client, MAX_NAME_CHARS) };
}

/**
 * Who called which tool on which server, when, how long it took and whether it failed. Recording is a
 * push onto an array, so the request path never waits on disk; entries are written in batches, one
 * transaction each, and the table is kept within a row count and an age.
 */
export class AuditLog {
  /** Closed by `close()`; a SQLite database handed in as `target` is left open for its owner. */
  readonly store: AuditStore;
  readonly maxRows: number;
  readonly maxAgeMs: number;
  readonly #flushIntervalMs: number;
  readonly #batchSize: number;
  readonly #maxPending: number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #retry: RestartDelayOptions;
  /** Consecutive failed writes; while above 0 only the retry timer writes (no attempt per recorded call). */
  #failures = 0;
  #pending: AuditEntry[] = [];
  #dropped = 0;
  #closed = false;
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #pruneTimer: NodeJS.Timeout;
  /** Store operations run one at a time, in order: a flush never interleaves with a prune. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(target: AuditStore | SqliteDatabase | string, options: AuditLogOptions = {}) {
    this.store = isAuditStore(target) ? target : new SqliteAuditStore(target);
    this.maxRows = options.maxRows ?? 100_000;
    this.maxAgeMs = options.maxAgeMs ?? 30 * DAY_MS;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#batchSize = options.batchSize ?? 500;
    this.#maxPending = Math.max(options.maxPending ?? 10_000, this.#batchSize);
    this.#now = options.now ?? Date.now;
    this.#log = options.logger ?? silentLogger;
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.#pruneTimer = setInterval(() => this.#background(this.prune()), options.pruneIntervalMs ?? 10 * 60 * 1000);
    this.#pruneTimer.unref();
    // A host that was down for a while starts with the backlog of expired rows gone.
    this.#background(this.prune());
  }

  record(input: AuditInput): void {
    if (this.#closed) {
      this.#dropped++;
      return;
    }
    const entry: AuditEntry = {
      teammate: clip(input.teammate, MAX_NAME_CHARS),
      server: clip(input.server, MAX_NAME_CHARS),
      method: clip(input.method, MAX_NAME_CHARS),
      durationMs: Number.isFinite(input.durationMs) ? input.durationMs : 0,
      ok: input.ok,
      at: input.at ?? this.#now(),
    };
    if (input.tool !== undefined) entry.tool = clip(input.tool, MAX_NAME_CHARS);
    if (input.error !== undefined) entry.error = clip(input.error, MAX_ERROR_CHARS);
    if (input.via) entry.via = clipVia(input.via);
    this.#pending.push(entry);
    this.#trim();
    if (this.#failures > 0) return; // the retry timer is armed
    if (this.#pending.length >= this.#batchSize) this.#background(this.flush());
    else this.#flushTimer ??= setTimeout(() => this.#background(this.flush()), this.#flushIntervalMs).unref();
  }

  /**
   * Writes everything recorded so far. A failed write (one transaction, so nothing half-written) keeps
   * the batch in the backlog, bounded by maxPending, and a timer tries again after a growing delay.
   */
  flush(): Promise<void> {
    this.#clearFlushTimer();
    return this.#serial(async () => {
      const batch = this.#pending;
      if (batch.length === 0) return;
      this.#pending = [];
      try {
        await this.store.append(batch);
      } catch (error) {
        this.#pending = batch.concat(this.#pending);
        this.#trim();
        if (!this.#closed) {
          this.#flushTimer = setTimeout(() => this.#background(this.flush()), restartDelay(this.#failures, this.#retry)).unref();
        }
        if (this.#failures++ === 0) this.#log.warn({ err: (error as Error).message, pending: this.#pending.length }, 'audit entries kept in memory until the store takes writes again');
        throw error;
      }
      if (this.#failures > 0) this.#log.info({ written: batch.length, failedAttempts: this.#failures }, 'audit backlog written');
      this.#failures = 0;
      await this.store.prune({ maxRows: this.maxRows });
    });
  }

  /** Deletes entries beyond the row bound or older than the age bound; returns how many. */
  prune(): Promise<number> {
    return this.#serial(() => this.store.prune({ maxRows: this.maxRows, olderThan: this.#now() - this.maxAgeMs }));
  }

  /** Newest first; includes entries still pending. */
  async query(query: AuditQuery = {}): Promise<StoredAuditEntry[]> {
    // A failed write must not hide what is already stored.
    await this.flush().catch((err: unknown) => this.#log.warn({ err }, 'audit log write failed'));
    return this.#serial(() => this.store.query(query));
  }

  /** How each teammate connected (audit-store.ts connections()); includes entries still pending. */
  async connections(): Promise<TeammateConnection[]> {
    await this.flush().catch((err: unknown) => this.#log.warn({ err }, 'audit log write failed'));
    return this.#serial(() => this.store.connections());
  }

  /** Entries waiting to be written. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Entries lost to backlog overflow, a store still failing at close, or recording after close. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Writes what is pending and closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pruneTimer);
    try {
      await this.flush();
    } catch (error) {
      // Store failures are not thrown at callers: closing must finish. What could not be written is counted.
      this.#log.warn({ err: (error as Error).message, lost: this.#pending.length }, 'audit entries not written at close');
      this.#dropped += this.#pending.length;
      this.#pending = [];
    } finally {
      this.#clearFlushTimer();
      await this.#serial(() => this.store.close());
    }
  }

  #trim(): void {
    const excess = this.#pending.length - this.#maxPending;
    if (excess <= 0) return;
    this.#pending.splice(0, excess);
    this.#dropped += excess;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  #background(work: Promise<unknown>): void {
    // While the store keeps failing, flush() has said so once; each retry's failure is a debug line.
    work.catch((err: unknown) => (this.#failures > 1 ? this.#log.debug({ err }, 'audit log write failed again') : this.#log.warn({ err }, 'audit log write failed')));
  }

  #clearFlushTimer(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }
}
