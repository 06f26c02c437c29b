import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { migrate, type SqliteDatabase } from '../store/sqlite-database.ts';
import { UsageBacklog } from './usage-backlog.ts';

export { MAX_PENDING_USAGE } from './usage-backlog.ts';

export interface Teammate {
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  calls: number;
  revokedAt: number | null;
  expiresAt: number | null;
  /** Hosted servers this token may reach; null means all. */
  scope: string[] | null;
}

export interface NewToken {
  teammate: Teammate;
  /** The only time the plain token exists outside the teammate's client. */
  token: string;
}

export interface IssueOptions {
  expiresAt?: number | null;
  scope?: string[] | null;
}

/**
 * Tokens are stored as SHA-256 hashes: the database alone never grants access. An interface with a
 * SQLite implementation (one host, this file) and a PostgreSQL one (replicas, DESIGN.md section 9:
 * server/store/postgres/pg-token-store.ts). Synchronous, because `verify` runs on every request: the
 * PostgreSQL store answers from an in-memory view of the teammates table kept fresh by LISTEN/NOTIFY
 * and writes behind (`drain()` waits for those writes).
 */
export interface TokenStore {
  issue(name: string, options?: IssueOptions): NewToken;
  /** The teammate a presented token belongs to, or null if unknown, revoked or expired. */
  verify(token: string, now?: number): Teammate | null;
  list(): Teammate[];
  /**
   * Refuses the teammate's token at once, in memory, and persists the revocation; when the write fails
   * (a full disk) the deny list keeps refusing it and `flush()` persists it later. False if no active token.
   */
  revoke(name: string): boolean;
  /** Record use; cheap, flushed in batches. */
  touch(name: string, now?: number): void;
  /** Writes pending revocations and use counts; on failure they stay pending (bounded) and it throws. */
  flush(): void;
  /** Teammates revoked by another process (the CLI, another replica) since the last call. Cheap when nothing changed. */
  revokedElsewhere(): string[];
  /**
   * Calls `listener` when the store learns of a change made elsewhere (PostgreSQL: a notification), so
   * the revocation watch reacts at once instead of at its next poll. Absent when the store cannot push.
   */
  onChangeElsewhere?(listener: () => void): () => void;
  /** Waits until what was issued, revoked and used so far is stored; rejects when it cannot be. */
  drain(): Promise<void>;
  /** Writes what it can and lets go of what the store itself opened (not a database handed in). */
  close(): Promise<void>;
  /** Writes waiting for the disk. */
  readonly pending: { revocations: number; usage: number; usageDropped: number };
}

export class TokenNameError extends Error {
  override name = 'TokenNameError';
}

export const TOKEN_PREFIX = 'hbr_';
const VERIFY_CACHE_MS = 2000;
const NAME_PATTERN = /^[\p{L}\p{N}_.@ -]{1,64}$/u;

/** The trimmed name, or TokenNameError saying what a name may be. */
export function checkTeammateName(name: string): string {
  const trimmed = name.trim();
  if (!NAME_PATTERN.test(trimmed)) throw new TokenNameError('a teammate name is 1-64 letters, digits, spaces or _ . @ -');
  return trimmed;
}

export function alreadyHasToken(name: string): TokenNameError {
  return new TokenNameError(`teammate "${name}" already has a token; revoke it first to issue a new one`);
}

/** Whether a presented token could be one of ours at all (cheap, before any hashing). */
export function looksLikeToken(token: string): boolean {
  return token.startsWith(TOKEN_PREFIX) && token.length <= 128;
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** 256 random bits; the prefix lets secret scanners recognise a leaked Harbor token. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** A teammates row, as both backends store it. */
export interface TeammateRow {
  name: string;
  token_hash: Buffer;
  created_at: number;
  last_used_at: number | null;
  calls: number;
  revoked_at: number | null;
  expires_at: number | null;
  scope: string | null;
}

export function toTeammate(row: TeammateRow): Teammate {
  return {
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    calls: row.calls,
    revokedAt: row.revoked_at,
    expiresAt: row.expires_at,
    scope: row.scope ? (JSON.parse(row.scope) as string[]) : null,
  };
}

type Row = TeammateRow;

const MIGRATIONS = [
  `CREATE TABLE teammates (
     name TEXT PRIMARY KEY,
     token_hash BLOB NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER,
     calls INTEGER NOT NULL DEFAULT 0,
     revoked_at INTEGER,
     expires_at INTEGER,
     scope TEXT
   )`,
];

export class SqliteTokenStore implements TokenStore {
  readonly #db: SqliteDatabase;
  readonly #usage = new UsageBacklog();
  /** Revoked here but not yet on disk (name → revoked at): refused by verify() until written. */
  readonly #denied = new Map<string, number>();
  readonly #verified = new Map<string, { row: Row | undefined; at: number }>();
  readonly #byHash;
  readonly #touchStmt;
  readonly #revokeStmt;
  readonly #revokedNames;
  readonly #dataVersion;
  #seenVersion: number;
  #knownRevoked: Set<string>;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    migrate(db, 'tokens', MIGRATIONS);
    this.#byHash = db.prepare('SELECT * FROM teammates WHERE token_hash = ?');
    this.#touchStmt = db.prepare(
      'UPDATE teammates SET last_used_at = MAX(COALESCE(last_used_at, 0), ?), calls = calls + ? WHERE name = ?',
    );
    this.#revokeStmt = db.prepare('UPDATE teammates SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL');
    this.#revokedNames = db.prepare('SELECT name FROM teammates WHERE revoked_at IS NOT NULL').pluck();
    // Changes when another connection (another process) commits to the file; our own commits leave it.
    this.#dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.#seenVersion = this.#dataVersion.get() as number;
    this.#knownRevoked = new Set(this.#revokedNames.all() as string[]);
  }

  issue(name: string, options: IssueOptions = {}): NewToken {
    const trimmed = checkTeammateName(name);
    // A revocation still in memory is written first, so it can never land on the new token later.
    if (this.#denied.size > 0) this.#persistRevocations();
    const existing = this.#db.prepare('SELECT revoked_at FROM teammates WHERE name = ?').get(trimmed) as
      | { revoked_at: number | null }
      | undefined;
    if (existing && existing.revoked_at === null) throw alreadyHasToken(trimmed);
    const token = generateToken();
    const now = Date.now();
    this.#db
      .prepare(
        `INSERT INTO teammates (name, token_hash, created_at, expires_at, scope) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at,
           last_used_at = NULL, calls = 0, revoked_at = NULL, expires_at = excluded.expires_at, scope = excluded.scope`,
      )
      .run(trimmed, hashToken(token), now, options.expiresAt ?? null, options.scope ? JSON.stringify(options.scope) : null);
    this.#verified.clear();
    this.#knownRevoked.delete(trimmed);
    return { token, teammate: this.#get(trimmed)! };
  }

  verify(token: string, now = Date.now()): Teammate | null {
    if (!looksLikeToken(token)) return null;
    const hash = hashToken(token);
    // Lookup is by hash (an attacker cannot steer a hash's prefix), and the final comparison is
    // constant-time anyway so no path compares secret material byte by byte.
    const row = this.#lookup(hash, now);
    if (!row || !timingSafeEqual(row.token_hash, hash)) return null;
    if (row.revoked_at !== null || this.#denied.has(row.name)) return null;
    if (row.expires_at !== null && row.expires_at <= now) return null;
    return toTeammate(row);
  }

  /**
   * Rows by hash, remembered for a moment: every request is authenticated, and a query per request
   * was a measurable share of the host's CPU. Changes made through this store clear it at once;
   * changes made by another process (the CLI with no host running) show within VERIFY_CACHE_MS.
   */
  #lookup(hash: Buffer, now: number): Row | undefined {
    const key = hash.toString('base64');
    const cached = this.#verified.get(key);
    if (cached && now - cached.at < VERIFY_CACHE_MS) return cached.row;
    const row = this.#byHash.get(hash) as Row | undefined;
    if (this.#verified.size >= 10_000) this.#verified.clear();
    this.#verified.set(key, { row, at: now });
    return row;
  }

  /** Includes what waits for the disk: revocations in memory show as revoked, pending use is counted. */
  list(): Teammate[] {
    try {
      this.flush();
    } catch {
      // A full disk: what is pending is shown from memory below.
    }
    return (this.#db.prepare('SELECT * FROM teammates ORDER BY created_at').all() as Row[]).map((row) => {
      const teammate = toTeammate(row);
      const revokedAt = this.#denied.get(row.name);
      if (revokedAt !== undefined && teammate.revokedAt === null) teammate.revokedAt = revokedAt;
      return this.#usage.addPendingTo(teammate);
    });
  }

  revoke(name: string): boolean {
    // A read, which works on a full disk: the refusal below must not depend on a write.
    const row = this.#db.prepare('SELECT revoked_at FROM teammates WHERE name = ?').get(name) as { revoked_at: number | null } | undefined;
    if (!row || row.revoked_at !== null || this.#denied.has(name)) return false;
    this.#denied.set(name, Date.now());
    this.#knownRevoked.add(name);
    this.#verified.clear();
    try {
      this.#persistRevocations();
    } catch {
      // Kept in the deny list, refused from now on; flush() writes it when the disk takes writes again.
    }
    return true;
  }

  touch(name: string, now = Date.now()): void {
    this.#usage.add(name, now);
  }

  flush(): void {
    if (this.#denied.size > 0) this.#persistRevocations();
    if (this.#usage.size === 0) return;
    const entries = this.#usage.snapshot();
    this.#db.transaction(() => {
      for (const [name, use] of entries) this.#touchStmt.run(use.at, use.calls, name);
    })();
    // Only after the commit: a failed write keeps the counts.
    this.#usage.written(entries);
  }

  async drain(): Promise<void> {
    this.flush();
  }

  /** The database was handed in: its owner closes it. */
  async close(): Promise<void> {
    this.flush();
  }

  get pending(): { revocations: number; usage: number; usageDropped: number } {
    return { revocations: this.#denied.size, usage: this.#usage.calls, usageDropped: this.#usage.dropped };
  }

  revokedElsewhere(): string[] {
    const version = this.#dataVersion.get() as number;
    if (version === this.#seenVersion) return [];
    this.#seenVersion = version;
    this.#verified.clear(); // the next request sees the change at once, not within VERIFY_CACHE_MS
    const revoked = new Set(this.#revokedNames.all() as string[]);
    for (const name of this.#denied.keys()) revoked.add(name);
    // A name revoked and issued again between two calls is missed here; its old token is refused all the same.
    const fresh = [...revoked].filter((name) => !this.#knownRevoked.has(name));
    this.#knownRevoked = revoked;
    return fresh;
  }

  #persistRevocations(): void {
    const entries = [...this.#denied];
    this.#db.transaction(() => {
      for (const [name, at] of entries) this.#revokeStmt.run(at, name);
    })();
    for (const [name] of entries) this.#denied.delete(name);
  }

  #get(name: string): Teammate | null {
    const row = this.#db.prepare('SELECT * FROM teammates WHERE name = ?').get(name) as Row | undefined;
    return row ? toTeammate(row) : null;
  }
}
