import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { setImmediate as yieldToRequests } from 'node:timers/promises';
import type { Logger } from '../logger.ts';
import { migrate, openDatabase, type SqliteDatabase } from '../store/sqlite-database.ts';

const TEXT_EXTENSIONS = new Set([
  '.md', '.markdown', '.mdx', '.txt', '.rst', '.adoc', '.org', '.csv', '.json', '.yaml', '.yml', '.toml', '.ini',
  '.html', '.css', '.ts', '.tsx', '.js', '.jsx', '.mjs', '.cjs', '.py', '.rb', '.go', '.rs', '.java', '.kt', '.swift',
  '.c', '.h', '.cc', '.cpp', '.hpp', '.cs', '.php', '.sh', '.sql', '.proto', '.graphql', '.tf', '.lua',
]);
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', 'build', 'target', '__pycache__', '.venv']);
const MAX_FILE_BYTES = 1024 * 1024;
const BATCH = 50;

export interface SearchHit {
  path: string;
  title: string;
  snippet: string;
  score: number;
}

export interface DocEntry {
  path: string;
  title: string;
  size: number;
  mtimeMs: number;
}

const MIGRATIONS = [
  `CREATE TABLE docs (path TEXT PRIMARY KEY, title TEXT NOT NULL, size INTEGER NOT NULL, mtime_ms REAL NOT NULL);
   CREATE VIRTUAL TABLE docs_fts USING fts5(path UNINDEXED, title, body, tokenize = 'porter unicode61');`,
];

/** A title for a file: its first Markdown heading, else its file name. */
function titleOf(path: string, body: string): string {
  const heading = /^#{1,6}\s+(.+)$/m.exec(body.slice(0, 4000));
  return heading ? heading[1]!.trim() : (path.split('/').pop() ?? path);
}

/** Words of a user's query as FTS5 string literals: no query can be an FTS syntax error. */
function ftsTerms(query: string): string[] {
  return (query.match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, 32).map((t) => `"${t.replace(/"/g, '""')}"`);
}

/**
 * Full-text index of a folder in SQLite FTS5. Scans run in the background in small batches that
 * yield to the event loop, so a search never waits for a re-index; it sees the index as it stands.
 */
export class DocsIndex {
  readonly folder: string;
  readonly #db: SqliteDatabase;
  readonly #log: Logger;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #debounce: NodeJS.Timeout | null = null;
  #scanning: Promise<void> | null = null;
  #rescanWanted = false;
  #closed = false;
  scans = 0;

  constructor(options: { folder: string; databaseFile: string; log: Logger }) {
    this.folder = options.folder;
    this.#log = options.log;
    this.#db = openDatabase(options.databaseFile);
    migrate(this.#db, 'docs', MIGRATIONS);
  }

  /** First scan, then watch for changes and rescan every `rescanMs` as a safety net for missed events. */
  start(rescanMs: number): Promise<void> {
    const first = this.scan();
    try {
      this.#watcher = watch(this.folder, { recursive: true }, () => this.#scheduleScan());
      this.#watcher.on('error', (error) => this.#log.warn({ err: error.message }, 'docs folder watch failed; relying on periodic scans'));
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, 'cannot watch the docs folder; relying on periodic scans');
    }
    this.#timer = setInterval(() => void this.scan(), rescanMs);
    this.#timer.unref();
    return first;
  }

  /** Brings the index up to date with the folder (by mtime and size). Concurrent calls coalesce. */
  scan(): Promise<void> {
    if (this.#scanning) {
      this.#rescanWanted = true;
      return this.#scanning;
    }
    this.#scanning = this.#scanOnce()
      .catch((error: Error) => this.#log.error({ err: error.message }, 'docs scan failed'))
      .finally(() => {
        this.#scanning = null;
        if (this.#rescanWanted && !this.#closed) {
          this.#rescanWanted = false;
          void this.scan();
        }
      });
    return this.#scanning;
  }

  /** Ranked matches. `anyWord` widens to documents with any of the words (candidates for reranking). */
  search(query: string, limit = 10, anyWord = false): SearchHit[] {
    const terms = ftsTerms(query);
    if (terms.length === 0) return [];
    const run = (match: string) =>
      this.#db
        .prepare(
          `SELECT path, title, snippet(docs_fts, 2, '**', '**', ' … ', 16) AS snippet, bm25(docs_fts, 0.0, 4.0, 1.0) AS score
           FROM docs_fts WHERE docs_fts MATCH ? ORDER BY score LIMIT ?`,
        )
        .all(match, limit) as SearchHit[];
    // All words first; if nothing has them all, any of them.
    let hits = anyWord ? [] : run(terms.join(' AND '));
    if (hits.length === 0 && (terms.length > 1 || anyWord)) hits = run(terms.join(' OR '));
    return hits.map((h) => ({ ...h, score: -h.score }));
  }

  list(prefix = ''): DocEntry[] {
    return (
      this.#db
        .prepare(`SELECT path, title, size, mtime_ms AS mtimeMs FROM docs WHERE path LIKE ? ESCAPE '\\' ORDER BY path`)
        .all(prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%') as DocEntry[]
    );
  }

  /** The file's text, if it is an indexed document (so no path can escape the folder). */
  async read(path: string): Promise<string | null> {
    const row = this.#db.prepare('SELECT path FROM docs WHERE path = ?').get(path) as { path: string } | undefined;
    if (!row) return null;
    return readFile(join(this.folder, ...row.path.split('/')), 'utf8');
  }

  /** True while a scan runs: results may be incomplete. */
  get indexing(): boolean {
    return this.#scanning !== null;
  }

  get count(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM docs').get() as { n: number }).n;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    if (this.#timer) clearInterval(this.#timer);
    if (this.#debounce) clearTimeout(this.#debounce);
    await this.#scanning;
    this.#db.close();
  }

  #scheduleScan(): void {
    if (this.#closed) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.scan(), 200);
    this.#debounce.unref();
  }

  async #scanOnce(): Promise<void> {
    const known = new Map<string, { size: number; mtime_ms: number }>();
    for (const row of this.#db.prepare('SELECT path, size, mtime_ms FROM docs').all() as Array<{ path: string; size: number; mtime_ms: number }>) {
      known.set(row.path, row);
    }
    const seen = new Set<string>();
    let batch: Array<{ path: string; body: string; size: number; mtimeMs: number }> = [];
    for await (const file of this.#walk(this.folder)) {
      if (this.#closed) return;
      const rel = relative(this.folder, file).split(sep).join('/');
      seen.add(rel);
      let info;
      try {
        info = await stat(file);
      } catch {
        continue;
      }
      if (info.size > MAX_FILE_BYTES) continue;
      const before = known.get(rel);
      if (before && before.size === info.size && before.mtime_ms === info.mtimeMs) continue;
      let body: string;
      try {
        body = await readFile(file, 'utf8');
      } catch {
        continue;
      }
      if (body.includes('\u0000')) continue;
      batch.push({ path: rel, body, size: info.size, mtimeMs: info.mtimeMs });
      if (batch.length >= BATCH) {
        this.#write(batch, []);
        batch = [];
        await yieldToRequests();
      }
    }
    const gone = [...known.keys()].filter((p) => !seen.has(p));
    this.#write(batch, gone);
    this.scans++;
  }

  #write(docs: Array<{ path: string; body: string; size: number; mtimeMs: number }>, removed: string[]): void {
    if (docs.length === 0 && removed.length === 0) return;
    const deleteFts = this.#db.prepare('DELETE FROM docs_fts WHERE path = ?');
    const deleteDoc = this.#db.prepare('DELETE FROM docs WHERE path = ?');
    const insertFts = this.#db.prepare('INSERT INTO docs_fts (path, title, body) VALUES (?, ?, ?)');
    const upsertDoc = this.#db.prepare(
      `INSERT INTO docs (path, title, size, mtime_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT(path) DO UPDATE SET title = excluded.title, size = excluded.size, mtime_ms = excluded.mtime_ms`,
    );
    this.#db.transaction(() => {
      for (const path of removed) {
        deleteFts.run(path);
        deleteDoc.run(path);
      }
      for (const doc of docs) {
        const title = titleOf(doc.path, doc.body);
        deleteFts.run(doc.path);
        insertFts.run(doc.path, title, doc.body);
        upsertDoc.run(doc.path, title, doc.size, doc.mtimeMs);
      }
    })();
  }

  async *#walk(dir: string): AsyncGenerator<string> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) yield* this.#walk(full);
      } else if (entry.isFile() && TEXT_EXTENSIONS.has(extname(entry.name).toLowerCase())) yield full;
    }
  }
}
