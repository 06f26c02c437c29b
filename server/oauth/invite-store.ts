import { randomInt } from 'node:crypto';
import { hashToken, TokenNameError } from '../auth/token-store.ts';
import { migrate, type SqliteDatabase } from '../store/sqlite-database.ts';

/**
 * The owner's invitations: a name the sign-in page recognises (shown to the owner as "invited"), and
 * optionally a one-time code. The code is the owner's approval given in advance: it lets its holder in
 * once without a second question, so it is stored hashed, single-use and expires with the invite.
 */

export interface Invite {
  name: string;
  createdAt: number;
  expiresAt: number;
  /** The plain code, present only in the answer to `invite` (the store keeps its hash). */
  code?: string;
  hasCode: boolean;
}

const MIGRATIONS = [
  `CREATE TABLE oauth_invites (
     name TEXT PRIMARY KEY,
     code_hash BLOB UNIQUE,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   )`,
];

// Crockford base32 without look-alikes: 10 characters are 50 bits, against a rate-limited form.
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTVWXYZ';
const NAME_PATTERN = /^[\p{L}\p{N}_.@ -]{1,64}$/u;

function newCode(): string {
  let code = '';
  for (let i = 0; i < 10; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/** Case, spaces and dashes do not matter when a person types the code. */
function normaliseCode(code: string): string {
  const plain = code.toUpperCase().replace(/[\s-]/g, '');
  return plain.length === 10 ? `${plain.slice(0, 5)}-${plain.slice(5)}` : plain;
}

export class SqliteInviteStore {
  readonly #db: SqliteDatabase;
  readonly #now: () => number;
  readonly ttlMs: number;

  constructor(db: SqliteDatabase, options: { now?: () => number; ttlMs?: number } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? 7 * 86_400_000;
    migrate(db, 'oauth-invites', MIGRATIONS);
  }

  /** A new invite replaces an earlier one of the same name (and its code). */
  invite(name: string, { withCode = false }: { withCode?: boolean } = {}): Invite {
    const trimmed = name.trim();
    if (!NAME_PATTERN.test(trimmed)) throw new TokenNameError('a teammate name is 1-64 letters, digits, spaces or _ . @ -');
    const code = withCode ? newCode() : undefined;
    const now = this.#now();
    this.#db
      .prepare(
        `INSERT INTO oauth_invites (name, code_hash, created_at, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at, expires_at = excluded.expires_at`,
      )
      .run(trimmed, code ? hashToken(code) : null, now, now + this.ttlMs);
    return { name: trimmed, createdAt: now, expiresAt: now + this.ttlMs, hasCode: code !== undefined, ...(code ? { code } : {}) };
  }

  /** The open invite of this name (names compare case-insensitively: people type them). */
  invited(name: string): string | null {
    const row = this.#db.prepare('SELECT name FROM oauth_invites WHERE name = ? COLLATE NOCASE AND expires_at > ?').get(name.trim(), this.#now()) as
      | { name: string }
      | undefined;
    return row?.name ?? null;
  }

  /** The invited name a code belongs to, spending the code; null for an unknown, used or expired one. */
  redeemCode(code: string): string | null {
    if (code.length > 64) return null;
    // Looked up by its SHA-256 (no byte-by-byte compare of the secret); spent in the same statement.
    const hash = hashToken(normaliseCode(code));
    const row = this.#db
      .prepare('UPDATE oauth_invites SET code_hash = NULL WHERE code_hash = ? AND expires_at > ? RETURNING name')
      .get(hash, this.#now()) as { name: string } | undefined;
    return row?.name ?? null;
  }

  list(): Invite[] {
    const rows = this.#db.prepare('SELECT * FROM oauth_invites WHERE expires_at > ? ORDER BY created_at').all(this.#now()) as Array<{
      name: string;
      code_hash: Buffer | null;
      created_at: number;
      expires_at: number;
    }>;
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at, expiresAt: r.expires_at, hasCode: r.code_hash !== null }));
  }

  remove(name: string): boolean {
    return this.#db.prepare('DELETE FROM oauth_invites WHERE name = ?').run(name).changes > 0;
  }
}
