import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { migrate, type SqliteDatabase } from '../store/sqlite-database.ts';

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
 * Tokens are stored as SHA-256 hashes: the database alone never grants access. An interface, because a
 * PostgreSQL implementation serves multi-replica deployments (DESIGN.md section 9).
 */
export interface TokenStore {
  issue(name: string, options?: IssueOptions): NewToken;
  /** The teammate a presented token belongs to, or null if unknown, revoked or expired. */
  verify(token: string, now?: number): Teammate | null;
  list(): Teammate[];
  revoke(name: string): boolean;
  /** Record use; cheap, flushed in batches. */
  touch(name: string, now?: number): void;
  flush(): void;
}

export class TokenNameError extends Error {
  override name = 'TokenNameError';
}

const TOKEN_PREFIX = 'hbr_';
const VERIFY_CACHE_MS = 2000;
const NAME_PATTERN = /^[\p{L}\p{N}_.@ -]{1,64}$/u;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** 256 random bits; the prefix lets secret scanners recognise a leaked Harbor token. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

interface Row {
  name: string;
  token_hash: Buffer;
  created_at: number;
  last_used_at: number | null;
  calls: number;
  revoked_at: number | null;
  expires_at: number | null;
  scope: string | null;
}

function toTeammate(row: Row): Teammate {
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
  readonly #pendingUse = new Map<string, { at: number; calls: number }>();
  readonly #verified = new Map<string, { row: Row | undefined; at: number }>();
  readonly #byHash;
  readonly #touchStmt;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    migrate(db, 'tokens', MIGRATIONS);
    this.#byHash = db.prepare('SELECT * FROM teammates WHERE token_hash = ?');
    this.#touchStmt = db.prepare(
      'UPDATE teammates SET last_used_at = MAX(COALESCE(last_used_at, 0), ?), calls = calls + ? WHERE name = ?',
    );
  }

  issue(name: string, options: IssueOptions = {}): NewToken {
    const trimmed = name.trim();
    if (!NAME_PATTERN.test(trimmed)) {
      throw new TokenNameError('a teammate name is 1-64 letters, digits, spaces or _ . @ -');
    }
    const existing = this.#db.prepare('SELECT revoked_at FROM teammates WHERE name = ?').get(trimmed) as
      | { revoked_at: number | null }
      | undefined;
    if (existing && existing.revoked_at === null) {
      throw new TokenNameError(`teammate "${trimmed}" already has a token; revoke it first to issue a new one`);
    }
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
    return { token, teammate: this.#get(trimmed)! };
  }

  verify(token: string, now = Date.now()): Teammate | null {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 128) return null;
    const hash = hashToken(token);
    // Lookup is by hash (an attacker cannot steer a hash's prefix), and the final comparison is
    // constant-time anyway so no path compares secret material byte by byte.
    const row = this.#lookup(hash, now);
    if (!row || !timingSafeEqual(row.token_hash, hash)) return null;
    if (row.revoked_at !== null) return null;
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

  list(): Teammate[] {
    this.flush();
    return (this.#db.prepare('SELECT * FROM teammates ORDER BY created_at').all() as Row[]).map(toTeammate);
  }

  revoke(name: string): boolean {
    const result = this.#db
      .prepare('UPDATE teammates SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL')
      .run(Date.now(), name);
    this.#verified.clear();
    return result.changes > 0;
  }

  touch(name: string, now = Date.now()): void {
    const pending = this.#pendingUse.get(name);
    if (pending) {
      pending.at = now;
      pending.calls++;
    } else this.#pendingUse.set(name, { at: now, calls: 1 });
  }

  flush(): void {
    if (this.#pendingUse.size === 0) return;
    const entries = [...this.#pendingUse];
    this.#pendingUse.clear();
    this.#db.transaction(() => {
      for (const [name, use] of entries) this.#touchStmt.run(use.at, use.calls, name);
    })();
  }

  #get(name: string): Teammate | null {
    const row = this.#db.prepare('SELECT * FROM teammates WHERE name = ?').get(name) as Row | undefined;
    return row ? toTeammate(row) : null;
  }
}
