import { clampLimit, type AuditEntry, type AuditPrune, type AuditQuery, type AuditStore, type AuditStoreOptions, type StoredAuditEntry, type TeammateConnection } from '../../access/audit-store.ts';
import { CONNECTIONS_SQL, toConnection, toEntry, type AuditRow, type ConnectionRow } from '../../access/sqlite-audit-store.ts';
import { viaName } from '../../auth/connected-via.ts';
import { migratePostgres, type PgPool } from '../postgres-database.ts';

/** The same columns as the SQLite table (ok as 0/1), so both read back through one `toEntry`. */
export const PG_AUDIT_MIGRATIONS = [
  `CREATE TABLE audit_log (
     id BIGSERIAL PRIMARY KEY,
     at BIGINT NOT NULL,
     teammate TEXT NOT NULL,
     server TEXT NOT NULL,
     method TEXT NOT NULL,
     tool TEXT,
     duration_ms DOUBLE PRECISION NOT NULL,
     ok SMALLINT NOT NULL,
     error TEXT,
     replica TEXT
   );
   CREATE INDEX audit_log_at ON audit_log (at);
   CREATE INDEX audit_log_teammate_at ON audit_log (teammate, at);
   CREATE INDEX audit_log_server_at ON audit_log (server, at);`,
  // As SQLite's third step: how the caller authenticated, nullable so stored rows keep all they had.
  `ALTER TABLE audit_log ADD COLUMN via_kind TEXT, ADD COLUMN via_name TEXT;
   CREATE INDEX audit_log_via ON audit_log (teammate, via_kind, via_name, at);`,
];

/** The audit log of every replica in one table; each row names the replica that served the call. */
export class PgAuditStore implements AuditStore {
  readonly #pool: PgPool;
  readonly #replica: string | null;

  private constructor(pool: PgPool, options: AuditStoreOptions) {
    this.#pool = pool;
    this.#replica = options.replica ?? null;
  }

  static async open(pool: PgPool, options: AuditStoreOptions = {}): Promise<PgAuditStore> {
    await migratePostgres(pool, 'audit-log', PG_AUDIT_MIGRATIONS);
    return new PgAuditStore(pool, options);
  }

  /** One statement per batch (unnest of column arrays): one round trip and one commit however many rows. */
  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#pool.query(
      `INSERT INTO audit_log (at, teammate, server, method, tool, duration_ms, ok, error, replica, via_kind, via_name)
       SELECT u.at, u.teammate, u.server, u.method, u.tool, u.duration_ms, u.ok, u.error, $9, u.via_kind, u.via_name
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::smallint[], $8::text[], $10::text[], $11::text[])
         AS u(at, teammate, server, method, tool, duration_ms, ok, error, via_kind, via_name)`,
      [
        entries.map((e) => e.at),
        entries.map((e) => e.teammate),
        entries.map((e) => e.server),
        entries.map((e) => e.method),
        entries.map((e) => e.tool ?? null),
        entries.map((e) => e.durationMs),
        entries.map((e) => (e.ok ? 1 : 0)),
        entries.map((e) => e.error ?? null),
        this.#replica,
        entries.map((e) => e.via?.kind ?? null),
        entries.map((e) => (e.via ? viaName(e.via) : null)),
      ],
    );
  }

  async query(query: AuditQuery): Promise<StoredAuditEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (query.teammate !== undefined) add('teammate = ?', query.teammate);
    if (query.server !== undefined) add('server = ?', query.server);
    if (query.before !== undefined) add('at < ?', query.before);
    params.push(clampLimit(query.limit));
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT $${params.length}`;
    const { rows } = await this.#pool.query<AuditRow>(sql, params);
    return rows.map(toEntry);
  }

  async connections(): Promise<TeammateConnection[]> {
    const { rows } = await this.#pool.query<ConnectionRow>(CONNECTIONS_SQL);
    return rows.map(toConnection).filter((c) => c !== null);
  }

  async prune(policy: AuditPrune): Promise<number> {
    let deleted = 0;
    if (policy.olderThan !== undefined) {
      deleted += (await this.#pool.query('DELETE FROM audit_log WHERE at < $1', [policy.olderThan])).rowCount ?? 0;
    }
    if (policy.maxRows !== undefined) {
      // Ids only grow (a sequence shared by the replicas), so the bound is a range delete on the key.
      const result = await this.#pool.query('DELETE FROM audit_log WHERE id <= (SELECT max(id) FROM audit_log) - $1', [Math.max(0, Math.floor(policy.maxRows))]);
      deleted += result.rowCount ?? 0;
    }
    return deleted;
  }

  async count(): Promise<number> {
    const { rows } = await this.#pool.query<{ n: number }>('SELECT count(*)::bigint AS n FROM audit_log');
    return rows[0]!.n;
  }

  /** The pool belongs to whoever opened the store set (open-store.ts). */
  async close(): Promise<void> {}
}
