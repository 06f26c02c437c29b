import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { silentLogger, type Logger } from '../logger.ts';
import {
  CacheStoreError,
  entrySize,
  toCacheStoreError,
  type CacheStore,
  type CacheStoreFactory,
  type CacheStoreFailure,
  type CacheStoreOpenOptions,
  type CacheStoreUsage,
  type CacheWriteBatch,
  type CacheWriteResult,
  type StoredEntry,
} from './cache-store.ts';

/**
 * SQLite cache store: one table shared by every namespace, so several caches can live in one file.
 * The file must be dedicated to caches (not harbor.db): on corruption it is deleted and recreated.
 */
export interface SqliteCacheStoreOptions {
  /** Path of the SQLite file; created (with its folder) when missing. */
  file: string;
  logger?: Logger;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cache_entries (
  id INTEGER PRIMARY KEY,
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  size INTEGER NOT NULL,
  expires_at INTEGER,
  accessed_at INTEGER NOT NULL,
  UNIQUE (ns, key)
);
CREATE INDEX IF NOT EXISTS cache_entries_lru ON cache_entries (ns, accessed_at);
CREATE INDEX IF NOT EXISTS cache_entries_expiry ON cache_entries (ns, expires_at) WHERE expires_at IS NOT NULL;
`;

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const EVICT_CHUNK = 64;

/** The disk layer for `BoundedCache({ store })`; the cache's own logger (from `open`) wins over `options.logger`. */
export function sqliteCacheStoreFactory(options: SqliteCacheStoreOptions): CacheStoreFactory {
  return (open) => openSqliteCacheStore({ ...options, ...open, logger: open.logger ?? options.logger });
}

export async function openSqliteCacheStore(
  options: SqliteCacheStoreOptions & CacheStoreOpenOptions,
): Promise<CacheStore> {
  const logger = options.logger ?? silentLogger;
  if (options.discardExisting) removeDatabaseFiles(options.file);
  try {
    return new SqliteCacheStore(options.file, options.namespace, options.maxBytes);
  } catch (error) {
    const failure = toStoreError(error);
    if (failure.kind !== 'corrupt') throw failure;
    // A cache holds nothing that cannot be fetched again, so a damaged file is replaced, not repaired.
    logger.warn({ file: options.file, err: failure.message }, 'cache database is corrupt; recreating it empty');
    removeDatabaseFiles(options.file);
    try {
      return new SqliteCacheStore(options.file, options.namespace, options.maxBytes);
    } catch (retryError) {
      throw toStoreError(retryError);
    }
  }
}

function removeDatabaseFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      rmSync(file + suffix, { force: true });
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

class SqliteCacheStore implements CacheStore {
  readonly description: string;
  readonly #file: string;
  readonly #ns: string;
  readonly #maxBytes: number;
  readonly #db: Database.Database;
  readonly #inode: number;
  #bytes = 0;
  #entries = 0;
  #maxAccessedAt = 0;
  readonly #stmts;

  constructor(file: string, namespace: string, maxBytes: number) {
    this.description = `sqlite:${file}#${namespace}`;
    this.#file = file;
    this.#ns = namespace;
    this.#maxBytes = maxBytes;
    mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file);
    try {
      // Only takes effect on a new file; lets clear() hand space back to the filesystem.
      db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      // Keep the WAL small relative to the bound so the files on disk stay near maxBytes.
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      const walPages = Math.max(32, Math.min(1000, Math.floor(maxBytes / 4 / pageSize)));
      db.pragma(`wal_autocheckpoint = ${walPages}`);
      db.pragma(`journal_size_limit = ${walPages * pageSize}`);
      db.exec(SCHEMA);
      const totals = db
        .prepare(
          'SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS entries, COALESCE(MAX(accessed_at), 0) AS maxAccessedAt FROM cache_entries WHERE ns = ?',
        )
        .get(namespace) as { bytes: number; entries: number; maxAccessedAt: number };
      this.#bytes = totals.bytes;
      this.#entries = totals.entries;
      this.#maxAccessedAt = totals.maxAccessedAt;
      // Writes the header into the main file, so check() can recognise a valid file from the start.
      db.pragma('wal_checkpoint(TRUNCATE)');
      this.#inode = statSync(file).ino;
    } catch (error) {
      db.close();
      throw error;
    }
    this.#db = db;
    this.#stmts = {
      get: db.prepare('SELECT value, expires_at AS expiresAt FROM cache_entries WHERE ns = ? AND key = ?'),
      size: db.prepare('SELECT size FROM cache_entries WHERE ns = ? AND key = ?').pluck(),
      upsert: db.prepare(
        `INSERT INTO cache_entries (ns, key, value, size, expires_at, accessed_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, size = excluded.size,
           expires_at = excluded.expires_at, accessed_at = excluded.accessed_at`,
      ),
      delete: db.prepare('DELETE FROM cache_entries WHERE ns = ? AND key = ? RETURNING size').pluck(),
      touch: db.prepare('UPDATE cache_entries SET accessed_at = ? WHERE ns = ? AND key = ? AND accessed_at < ?'),
      evict: db
        .prepare(
          'DELETE FROM cache_entries WHERE id IN (SELECT id FROM cache_entries WHERE ns = ? ORDER BY accessed_at LIMIT ?) RETURNING size',
        )
        .pluck(),
      sweep: db
        .prepare('DELETE FROM cache_entries WHERE ns = ? AND expires_at IS NOT NULL AND expires_at <= ? RETURNING size')
        .pluck(),
      clear: db.prepare('DELETE FROM cache_entries WHERE ns = ?'),
    };
    if (this.#bytes > maxBytes) this.#run(() => this.#db.transaction(() => this.#evictOverBound(0))());
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    return this.#run(() => this.#stmts.get.get(this.#ns, key) as StoredEntry | undefined);
  }

  async write(batch: CacheWriteBatch): Promise<CacheWriteResult> {
    return this.#run(() =>
      this.#db.transaction((): CacheWriteResult => {
        const s = this.#stmts;
        for (const key of batch.deletes) this.#forget(s.delete.all(this.#ns, key) as number[]);
        for (const [key, accessedAt] of batch.touches) {
          s.touch.run(accessedAt, this.#ns, key, accessedAt);
          if (accessedAt > this.#maxAccessedAt) this.#maxAccessedAt = accessedAt;
        }
        // Make room before inserting, so the table (and so the file) never holds more than the bound.
        let incoming = 0;
        for (const op of batch.sets) incoming += entrySize(op.key, op.value);
        let evicted = this.#evictOverBound(Math.min(incoming, this.#maxBytes));
        for (const op of batch.sets) {
          const size = entrySize(op.key, op.value);
          const previous = s.size.get(this.#ns, op.key) as number | undefined;
          s.upsert.run(this.#ns, op.key, op.value, size, op.expiresAt, op.accessedAt);
          this.#bytes += size - (previous ?? 0);
          if (previous === undefined) this.#entries++;
          if (op.accessedAt > this.#maxAccessedAt) this.#maxAccessedAt = op.accessedAt;
        }
        evicted += this.#evictOverBound(0);
        return { evicted };
      })(),
    );
  }

  async sweepExpired(now: number): Promise<number> {
    return this.#run(() => this.#forget(this.#stmts.sweep.all(this.#ns, now) as number[]));
  }

  async clear(): Promise<void> {
    this.#run(() => {
      this.#stmts.clear.run(this.#ns);
      this.#bytes = 0;
      this.#entries = 0;
      this.#db.pragma('incremental_vacuum');
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    });
  }

  usage(): CacheStoreUsage {
    return { bytes: this.#bytes, entries: this.#entries, maxAccessedAt: this.#maxAccessedAt };
  }

  async check(): Promise<void> {
    // SQLite keeps working on an unlinked file and serves pages from its own cache, so a deleted or
    // overwritten file would otherwise go unnoticed until the next restart.
    let inode: number;
    try {
      inode = statSync(this.#file).ino;
    } catch (error) {
      throw new CacheStoreError('missing', `cache database ${this.#file} was deleted`, { cause: error });
    }
    if (inode !== this.#inode) throw new CacheStoreError('missing', `cache database ${this.#file} was replaced`);
    const header = Buffer.alloc(SQLITE_MAGIC.length);
    let read = 0;
    try {
      const fd = openSync(this.#file, 'r');
      try {
        read = readSync(fd, header, 0, header.length, 0);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw toStoreError(error);
    }
    if (read > 0 && !header.subarray(0, read).equals(SQLITE_MAGIC.subarray(0, read))) {
      throw new CacheStoreError('corrupt', `cache database ${this.#file} has a damaged header`);
    }
  }

  async close(): Promise<void> {
    try {
      this.#db.close();
    } catch {
      // Closing a connection to a damaged file can fail; the connection is gone either way.
    }
  }

  /** Evicts least recently accessed rows until `reserve` more bytes would fit under the bound. */
  #evictOverBound(reserve: number): number {
    let evicted = 0;
    const limit = this.#maxBytes - reserve;
    // Bounded: each round removes at least one row or stops.
    while (this.#bytes > limit && this.#entries > 0) {
      // Remove about as many rows as the excess needs (by average size), so eviction neither crawls
      // one row at a time after a large batch nor throws away more than the bound requires.
      const average = this.#bytes / this.#entries;
      const want = Math.min(EVICT_CHUNK, Math.max(1, Math.ceil((this.#bytes - limit) / average)));
      const sizes = this.#stmts.evict.all(this.#ns, want) as number[];
      if (sizes.length === 0) break;
      this.#forget(sizes);
      evicted += sizes.length;
    }
    return evicted;
  }

  #forget(sizes: number[]): number {
    for (const size of sizes) {
      this.#bytes -= size;
      this.#entries--;
    }
    return sizes.length;
  }

  #run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

function toStoreError(error: unknown): CacheStoreError {
  return toCacheStoreError(error, classify);
}

function classify(code: string): CacheStoreFailure {
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'corrupt';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return 'full';
  if (code === 'ENOENT') return 'missing';
  if (
    code.startsWith('SQLITE_IOERR') ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('E')
  ) {
    return 'io';
  }
  return 'other';
}
