import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type SqliteDatabase = Database.Database;

/**
 * Opens Harbor's SQLite file in WAL mode so the CLI and a running host can share it: readers never
 * block the writer and a crash mid-write loses nothing committed.
 */
export function openDatabase(file: string): SqliteDatabase {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  return db;
}

/** Applies numbered migrations once each, recorded in a table of its own per component. */
export function migrate(db: SqliteDatabase, component: string, steps: readonly string[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(component) as
    | { version: number }
    | undefined;
  const current = row?.version ?? 0;
  if (current >= steps.length) return;
  db.transaction(() => {
    for (let i = current; i < steps.length; i++) db.exec(steps[i]!);
    db.prepare(
      'INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT(component) DO UPDATE SET version = excluded.version',
    ).run(component, steps.length);
  })();
}
