import pg from 'pg';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient | pg.Client;

/** Signed 64-bit columns (epoch ms, byte counts) as numbers: every value Harbor stores fits in 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * A pool on HARBOR_DATABASE_URL. Small: a replica's writes are batched (audit, cache, token use), and
 * its reads of tokens come from memory, so a few connections serve it; several replicas share one
 * PostgreSQL whose max_connections (100 by default) they must stay under.
 */
export function openPostgres(url: string, options: { max?: number } = {}): PgPool {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 4, types, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection (PostgreSQL restarted) must not crash the host: the next query reconnects.
  pool.on('error', () => {});
  return pool;
}

/** A dedicated connection (for LISTEN), with the same number parsing as the pool. */
export function connectPostgres(url: string): pg.Client {
  return new pg.Client({ connectionString: url, types, connectionTimeoutMillis: 10_000 });
}

/** The URL without its password, for log lines and descriptions. */
export function describePostgres(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres (unparseable URL)';
  }
}

/** Runs `work` in one transaction on one pooled connection; rolled back if it throws. */
export async function inTransaction<T>(pool: PgPool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // The connection dying between two statements is emitted as an 'error' event, not thrown: without a
  // listener it would crash the process. The next statement (or the ROLLBACK) then fails and says so.
  const onError = (error: Error) => (broken = error);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A connection that fails its ROLLBACK is dead (PostgreSQL restarted, the backend was terminated):
    // released with the error, the pool discards it instead of handing it to the next query.
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/** The advisory lock every migration takes: replicas starting together migrate one after the other. */
const MIGRATION_LOCK = 0x4861_7262; // "Harb"

/**
 * The PostgreSQL twin of sqlite-database.ts's `migrate`: numbered steps applied once each, the version
 * per component in `schema_migrations`, all in one transaction under an advisory lock (two replicas
 * starting at once would otherwise race on CREATE TABLE).
 */
export async function migratePostgres(pool: PgPool, component: string, steps: readonly string[]): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations WHERE component = $1', [component]);
    const current = rows[0]?.version ?? 0;
    if (current >= steps.length) return;
    for (let i = current; i < steps.length; i++) await client.query(steps[i]!);
    await client.query(
      'INSERT INTO schema_migrations (component, version) VALUES ($1, $2) ON CONFLICT (component) DO UPDATE SET version = excluded.version',
      [component, steps.length],
    );
  });
}
