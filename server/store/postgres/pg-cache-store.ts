import {
  entrySize,
  toCacheStoreError,
  type CacheStore,
  type CacheStoreFactory,
  type CacheStoreFailure,
  type CacheStoreError,
  type CacheStoreUsage,
  type CacheWriteBatch,
  type CacheWriteResult,
  type StoredEntry,
} from '../../cache/cache-store.ts';
import { inTransaction, migratePostgres, type PgClient, type PgPool } from '../postgres-database.ts';

const MIGRATIONS = [
  `CREATE TABLE cache_entries (
     ns TEXT NOT NULL,
     key TEXT NOT NULL,
     value BYTEA NOT NULL,
     size BIGINT NOT NULL,
     expires_at BIGINT,
     accessed_at BIGINT NOT NULL,
     PRIMARY KEY (ns, key)
   );
   CREATE INDEX cache_entries_lru ON cache_entries (ns, accessed_at);
   CREATE INDEX cache_entries_expiry ON cache_entries (ns, expires_at) WHERE expires_at IS NOT NULL;`,
];

/**
 * The disk layer of every replica's BoundedCache in one PostgreSQL table: a result cached through one
 * replica is a hit on the others (their memory layers fill from it), and a namespace stays within its
 * byte bound whichever replicas write, because each write transaction takes the namespace's advisory
 * lock and evicts by total bytes in SQL before it commits.
 *
 * Trade-offs: writes of one namespace are serialised across replicas (they are batched by the cache,
 * one transaction per 10 ms at most per replica, so the lock is held briefly); the totals are
 * recomputed by one aggregate over the namespace after each write rather than kept in a counter row
 * (simpler, and never drifts when another replica evicts). A replica's memory layer is not told of
 * another's overwrite: it serves its copy until the entry's TTL or LRU ends it, which is what a
 * cache of idempotent tool results and embeddings allows.
 */
export function pgCacheStoreFactory(pool: PgPool, description: string): CacheStoreFactory {
  let migrated: Promise<void> | null = null;
  return async (open) => {
    migrated ??= migratePostgres(pool, 'cache', MIGRATIONS).catch((error: unknown) => {
      migrated = null;
      throw toStoreError(error);
    });
    await migrated;
    // discardExisting is for a corrupt SQLite file; PostgreSQL keeps its own integrity, so nothing to drop.
    const store = new PgCacheStore(pool, `${description}#${open.namespace}`, open.namespace, open.maxBytes);
    await store.refreshUsage();
    return store;
  };
}

class PgCacheStore implements CacheStore {
  readonly description: string;
  readonly #pool: PgPool;
  readonly #ns: string;
  readonly #maxBytes: number;
  #usage: CacheStoreUsage = { bytes: 0, entries: 0, maxAccessedAt: 0 };

  constructor(pool: PgPool, description: string, namespace: string, maxBytes: number) {
    this.description = description;
    this.#pool = pool;
    this.#ns = namespace;
    this.#maxBytes = maxBytes;
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    const { rows } = await this.#run(() =>
      this.#pool.query<{ value: Buffer; expiresAt: number | null }>('SELECT value, expires_at AS "expiresAt" FROM cache_entries WHERE ns = $1 AND key = $2', [this.#ns, key]),
    );
    return rows[0];
  }

  async write(batch: CacheWriteBatch): Promise<CacheWriteResult> {
    return this.#run(() =>
      inTransaction(this.#pool, async (client) => {
        // One writer per namespace at a time, across replicas, so the bound holds after every commit.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`harbor-cache:${this.#ns}`]);
        if (batch.deletes.length > 0) await client.query('DELETE FROM cache_entries WHERE ns = $1 AND key = ANY($2::text[])', [this.#ns, batch.deletes]);
        if (batch.touches.length > 0) {
          await client.query(
            `UPDATE cache_entries c SET accessed_at = t.at FROM unnest($2::text[], $3::bigint[]) AS t(key, at)
             WHERE c.ns = $1 AND c.key = t.key AND c.accessed_at < t.at`,
            [this.#ns, batch.touches.map(([key]) => key), batch.touches.map(([, at]) => at)],
          );
        }
        if (batch.sets.length > 0) {
          await client.query(
            `INSERT INTO cache_entries (ns, key, value, size, expires_at, accessed_at)
             SELECT $1, s.key, s.value, s.size, s.expires_at, s.accessed_at
             FROM unnest($2::text[], $3::bytea[], $4::bigint[], $5::bigint[], $6::bigint[]) AS s(key, value, size, expires_at, accessed_at)
             ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, size = excluded.size,
               expires_at = excluded.expires_at, accessed_at = excluded.accessed_at`,
            [
              this.#ns,
              batch.sets.map((op) => op.key),
              batch.sets.map((op) => op.value),
              batch.sets.map((op) => entrySize(op.key, op.value)),
              batch.sets.map((op) => op.expiresAt),
              batch.sets.map((op) => op.accessedAt),
            ],
          );
        }
        let usage = await this.#totals(client);
        let evicted = 0;
        if (usage.bytes > this.#maxBytes) {
          evicted = await this.#evict(client);
          usage = await this.#totals(client);
        }
        this.#usage = usage;
        return { evicted };
      }),
    );
  }

  /**
   * LRU by total bytes in one statement: newest first, a running sum of sizes, and every row past the
   * point where the sum exceeds the bound goes (ties broken by key, so the order is total).
   */
  async #evict(client: PgClient): Promise<number> {
    const { rowCount } = await client.query(
      `DELETE FROM cache_entries WHERE ns = $1 AND key IN (
         SELECT key FROM (
           SELECT key, sum(size) OVER (ORDER BY accessed_at DESC, key DESC ROWS UNBOUNDED PRECEDING) AS kept
           FROM cache_entries WHERE ns = $1
         ) ranked WHERE kept > $2)`,
      [this.#ns, this.#maxBytes],
    );
    return rowCount ?? 0;
  }

  async #totals(client: PgClient | PgPool): Promise<CacheStoreUsage> {
    const { rows } = await client.query<CacheStoreUsage>(
      `SELECT COALESCE(sum(size), 0)::bigint AS bytes, count(*)::bigint AS entries, COALESCE(max(accessed_at), 0)::bigint AS "maxAccessedAt"
       FROM cache_entries WHERE ns = $1`,
      [this.#ns],
    );
    return rows[0]!;
  }

  async refreshUsage(): Promise<void> {
    this.#usage = await this.#run(() => this.#totals(this.#pool));
  }

  async sweepExpired(now: number): Promise<number> {
    const { rowCount } = await this.#run(() =>
      this.#pool.query('DELETE FROM cache_entries WHERE ns = $1 AND expires_at IS NOT NULL AND expires_at <= $2', [this.#ns, now]),
    );
    if (rowCount) await this.refreshUsage();
    return rowCount ?? 0;
  }

  async clear(): Promise<void> {
    await this.#run(() => this.#pool.query('DELETE FROM cache_entries WHERE ns = $1', [this.#ns]));
    this.#usage = { bytes: 0, entries: 0, maxAccessedAt: this.#usage.maxAccessedAt };
  }

  usage(): CacheStoreUsage {
    return this.#usage;
  }

  async check(): Promise<void> {
    await this.#run(() => this.#pool.query('SELECT 1'));
  }

  /** The pool is shared with the other stores; open-store.ts ends it. */
  async close(): Promise<void> {}

  async #run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

/** PostgreSQL's SQLSTATE classes mapped onto the cache's failure kinds (the cache degrades, then rebuilds). */
function toStoreError(error: unknown): CacheStoreError {
  return toCacheStoreError(error, classify);
}

function classify(code: string): CacheStoreFailure {
  if (code === '53100') return 'full'; // disk_full
  if (code === 'XX001' || code === 'XX002') return 'corrupt'; // data_corrupted, index_corrupted
  if (code.startsWith('08') || code.startsWith('57P') || code.startsWith('53') || code.startsWith('E')) return 'io'; // connection, shutdown, resources, ECONNREFUSED…
  return 'other';
}
