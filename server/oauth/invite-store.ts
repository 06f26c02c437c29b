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

/** The invites, in SQLite (below) or PostgreSQL (store/postgres/pg-invite-store.ts). */
export interface InviteStore {
  readonly ttlMs: number;
  /** A new invite replaces an earlier one of the same name (and its code). */
  invite(name: string, options?: { withCode?: boolean }): Promise<Invite>;
  /** The open invite of this name (names compare case-insensitively: people type them). */
  invited(name: string): Promise<string | null>;
  /** The invited name a code belongs to, spending the code; null for an unknown, used or expired one. */
  redeemCode(code: string): Promise<string | null>;
  list(): Promise<Invite[]>;
  remove(name: string): Promise<boolean>;
}

export const INVITE_TTL_MS = 7 * 86_400_000;

export interface InviteRow {
  name: string;
  code_hash: Buffer | null;
  created_at: number;
  expires_at: number;
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

/** A checked name and, when asked for, a fresh code and its hash: what both stores write. */
export function newInvite(name: string, withCode: boolean): { name: string; code: string | undefined; codeHash: Buffer | null } {
  const trimmed = name.trim();
  if (!NAME_PATTERN.test(trimmed)) throw new TokenNameError('a teammate name is 1-64 letters, digits, spaces or _ . @ -');
  const code = withCode ? newCode() : undefined;
  return { name: trimmed, code, codeHash: code ? hashToken(code) : null };
}

/** The hash a typed code is looked up by (no byte-by-byte compare of the secret), or null when it cannot be one. */
export function typedCodeHash(code: string): Buffer | null {
  return code.length > 64 ? null : hashToken(normaliseCode(code));
}

export function inviteFromRow(row: InviteRow): Invite {
  return { name: row.name, createdAt: row.created_at, expiresAt: row.expires_at, hasCode: row.code_hash !== null };
}

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

export class SqliteInviteStore implements InviteStore {
  readonly #db: SqliteDatabase;
  readonly #now: () => number;
  readonly ttlMs: number;

  constructor(db: SqliteDatabase, options: { now?: () => number; ttlMs?: number } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? INVITE_TTL_MS;
    migrate(db, 'oauth-invites', MIGRATIONS);
  }

  async invite(name: string, { withCode = false }: { withCode?: boolean } = {}): Promise<Invite> {
    const made = newInvite(name, withCode);
    const now = this.#now();
    this.#db
      .prepare(
        `INSERT INTO oauth_invites (name, code_hash, created_at, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at, expires_at = excluded.expires_at`,
      )
      .run(made.name, made.codeHash, now, now + this.ttlMs);
    return { name: made.name, createdAt: now, expiresAt: now + this.ttlMs, hasCode: made.code !== undefined, ...(made.code ? { code: made.code } : {}) };
  }

  async invited(name: string): Promise<string | null> {
    const row = this.#db.prepare('SELECT name FROM oauth_invites WHERE name = ? COLLATE NOCASE AND expires_at > ?').get(name.trim(), this.#now()) as
      | { name: string }
      | undefined;
    return row?.name ?? null;
  }

  async redeemCode(code: string): Promise<string | null> {
    const hash = typedCodeHash(code);
    if (!hash) return null;
    // Spent in the same statement that finds it.
    const row = this.#db
      .prepare('UPDATE oauth_invites SET code_hash = NULL WHERE code_hash = ? AND expires_at > ? RETURNING name')
      .get(hash, this.#now()) as { name: string } | undefined;
    return row?.name ?? null;
  }

  async list(): Promise<Invite[]> {
    const rows = this.#db.prepare('SELECT * FROM oauth_invites WHERE expires_at > ? ORDER BY created_at').all(this.#now()) as InviteRow[];
    return rows.map(inviteFromRow);
  }

  async remove(name: string): Promise<boolean> {
    return this.#db.prepare('DELETE FROM oauth_invites WHERE name = ?').run(name).changes > 0;
  }
}
