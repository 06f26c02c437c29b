import Database from 'better-sqlite3';
import { migrate, openDatabase, type SqliteDatabase } from '../store/sqlite-database.ts';
import {
  clampLimit,
  type AuditEntry,
  type AuditPrune,
  type AuditQuery,
  type AuditStore,
  type AuditStoreOptions,
  type StoredAuditEntry,
} from './audit-store.ts';

const MIGRATIONS = [
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
];

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

  constructor(target: SqliteDatabase | string, options: AuditStoreOptions = {}) {
    this.#ownsDb = typeof target === 'string';
    this.db = typeof target === 'string' ? openDatabase(target) : target;
    migrate(this.db, 'audit-log', MIGRATIONS);
    this.#insert = this.db.prepare(
      `INSERT INTO audit_log (at, teammate, server, method, tool, duration_ms, ok, error, replica)
       VALUES (@at, @teammate, @server, @method, @tool, @durationMs, @ok, @error, @replica)`,
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
