import Database from 'better-sqlite3';
import { viaFromColumns, viaName } from '../auth/connected-via.ts';
import { migrate, openDatabase, type SqliteDatabase } from '../store/sqlite-database.ts';
import {
  clampLimit,
  type AuditEntry,
  type AuditPrune,
  type AuditQuery,
  type AuditStore,
  type AuditStoreOptions,
  type StoredAuditEntry,
  type TeammateConnection,
  MAX_CONNECTIONS,
} from './audit-store.ts';

export const AUDIT_MIGRATIONS = [
  `CREATE TABLE audit_log (
     id INTEGER PRIMARY KEY,
     at INTEGER NOT NULL,
     teammate TEXT NOT NULL,
     server TEXT NOT NULL,
     method TEXT NOT NULL,
     tool TEXT,
     duration_ms REAL NOT NULL,
     ok INTEGER NOT NULL,
     error TEXT
   );
   CREATE INDEX audit_log_at ON audit_log (at);
   CREATE INDEX audit_log_teammate_at ON audit_log (teammate, at);
   CREATE INDEX audit_log_server_at ON audit_log (server, at);`,
  'ALTER TABLE audit_log ADD COLUMN replica TEXT',
  // How the caller authenticated. Nullable: rows already stored keep everything they had and read back
  // without `via`. The index covers connections()'s GROUP BY, so the Team tab reads no table rows.
  `ALTER TABLE audit_log ADD COLUMN via_kind TEXT;
   ALTER TABLE audit_log ADD COLUMN via_name TEXT;
   CREATE INDEX audit_log_via ON audit_log (teammate, via_kind, via_name, at);`,
];

/** connections()'s query, the same text on both backends. */
export const CONNECTIONS_SQL = `SELECT teammate, via_kind, via_name, max(at) AS last_at, count(*) AS calls
  FROM audit_log WHERE via_kind IS NOT NULL
  GROUP BY teammate, via_kind, via_name ORDER BY last_at DESC LIMIT ${MAX_CONNECTIONS}`;

export interface ConnectionRow {
  teammate: string;
  via_kind: string;
  via_name: string | null;
  last_at: number | string;
  calls: number | string;
}

/** Shared with the PostgreSQL store (whose bigint aggregates arrive as strings). */
export function toConnection(row: ConnectionRow): TeammateConnection | null {
  const via = viaFromColumns(row.via_kind, row.via_name);
  return via ? { teammate: row.teammate, via, lastAt: Number(row.last_at), calls: Number(row.calls) } : null;
}

export interface AuditRow {
  id: number;
  at: number;
  teammate: string;
  server: string;
  method: string;
  tool: string | null;
  duration_ms: number;
  ok: number;
  error: string | null;
  replica: string | null;
  via_kind: string | null;
  via_name: string | null;
}

/** Shared with the PostgreSQL store, whose rows have the same columns. */
export function toEntry(row: AuditRow): StoredAuditEntry {
  const entry: StoredAuditEntry = {
    id: row.id,
    at: row.at,
    teammate: row.teammate,
    server: row.server,
    method: row.method,
    durationMs: row.duration_ms,
    ok: row.ok === 1,
  };
  if (row.tool !== null) entry.tool = row.tool;
  if (row.error !== null) entry.error = row.error;
  if (row.replica !== null) entry.replica = row.replica;
  const via = viaFromColumns(row.via_kind, row.via_name);
  if (via) entry.via = via;
  return entry;
}

export class SqliteAuditStore implements AuditStore {
  readonly db: SqliteDatabase;
  /** A database handed in belongs to the caller, who closes it. */
  readonly #ownsDb: boolean;
  readonly #insert: Database.Statement;
  readonly #deleteOlder: Database.Statement;
  readonly #deleteBeyond: Database.Statement;
  readonly #appendAll: (entries: readonly AuditEntry[]) => void;
  readonly #queries = new Map<string, Database.Statement>();
  #connections: Database.Statement | undefined;

  constructor(target: SqliteDatabase | string, options: AuditStoreOptions = {}) {
    this.#ownsDb = typeof target === 'string';
    this.db = typeof target === 'string' ? openDatabase(target) : target;
    migrate(this.db, 'audit-log', AUDIT_MIGRATIONS);
    this.#insert = this.db.prepare(
      `INSERT INTO audit_log (at, teammate, server, method, tool, duration_ms, ok, error, replica, via_kind, via_name)
       VALUES (@at, @teammate, @server, @method, @tool, @durationMs, @ok, @error, @replica, @viaKind, @viaName)`,
    );
    this.#deleteOlder = this.db.prepare('DELETE FROM audit_log WHERE at < ?');
    // Ids only grow and rows leave from the old end, so everything at or below max(id) - maxRows is
    // beyond the bound: a range delete on the primary key, with no count(*) scan.
    this.#deleteBeyond = this.db.prepare('DELETE FROM audit_log WHERE id <= (SELECT max(id) FROM audit_log) - ?');
    const replica = options.replica ?? null;
    // One transaction per batch: a commit (and its fsync) per row would dominate the cost.
    this.#appendAll = this.db.transaction((entries: readonly AuditEntry[]) => {
      for (const e of entries) {
        this.#insert.run({
          at: e.at,
          teammate: e.teammate,
          server: e.server,
          method: e.method,
          tool: e.tool ?? null,
          durationMs: e.durationMs,
          ok: e.ok ? 1 : 0,
          error: e.error ?? null,
          replica,
          viaKind: e.via?.kind ?? null,
          viaName: e.via ? viaName(e.via) : null,
        });
      }
    });
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length > 0) this.#appendAll(entries);
  }

  async query(query: AuditQuery): Promise<StoredAuditEntry[]> {
    const where: string[] = [];
    if (query.teammate !== undefined) where.push('teammate = @teammate');
    if (query.server !== undefined) where.push('server = @server');
    if (query.before !== undefined) where.push('at < @before');
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT @limit`;
    let statement = this.#queries.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.#queries.set(sql, statement);
    }
    const params: Record<string, unknown> = { limit: clampLimit(query.limit) };
    if (query.teammate !== undefined) params.teammate = query.teammate;
    if (query.server !== undefined) params.server = query.server;
    if (query.before !== undefined) params.before = query.before;
    return (statement.all(params) as AuditRow[]).map(toEntry);
  }

  async connections(): Promise<TeammateConnection[]> {
    this.#connections ??= this.db.prepare(CONNECTIONS_SQL);
    return (this.#connections.all() as ConnectionRow[]).map(toConnection).filter((c) => c !== null);
  }

  async prune(policy: AuditPrune): Promise<number> {
    let deleted = 0;
    if (policy.olderThan !== undefined) {
      deleted += this.#deleteOlder.run(policy.olderThan).changes;
    }
    if (policy.maxRows !== undefined) {
      deleted += this.#deleteBeyond.run(Math.max(0, Math.floor(policy.maxRows))).changes;
    }
    return deleted;
  }

  async count(): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  }

  async close(): Promise<void> {
    if (this.#ownsDb && this.db.open) this.db.close();
  }
}
