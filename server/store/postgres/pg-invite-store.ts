import { INVITE_TTL_MS, inviteFromRow, newInvite, typedCodeHash, type Invite, type InviteRow, type InviteStore } from '../../oauth/invite-store.ts';
import { migratePostgres, type PgPool } from '../postgres-database.ts';

const MIGRATIONS = [
  `CREATE TABLE oauth_invites (
     name TEXT PRIMARY KEY,
     code_hash BYTEA UNIQUE,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX oauth_invites_lower_name ON oauth_invites (lower(name));`,
];

/** The owner's invites in PostgreSQL: one made through any replica is known to all; a code is spent once. */
export class PgInviteStore implements InviteStore {
  readonly #pool: PgPool;
  readonly #now: () => number;
  readonly ttlMs: number;

  private constructor(pool: PgPool, options: { now?: () => number; ttlMs?: number }) {
    this.#pool = pool;
    this.#now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? INVITE_TTL_MS;
  }

  static async open(pool: PgPool, options: { now?: () => number; ttlMs?: number } = {}): Promise<PgInviteStore> {
    await migratePostgres(pool, 'oauth-invites', MIGRATIONS);
    return new PgInviteStore(pool, options);
  }

  async invite(name: string, { withCode = false }: { withCode?: boolean } = {}): Promise<Invite> {
    const made = newInvite(name, withCode);
    const now = this.#now();
    await this.#pool.query(
      `INSERT INTO oauth_invites (name, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at, expires_at = excluded.expires_at`,
      [made.name, made.codeHash, now, now + this.ttlMs],
    );
    return { name: made.name, createdAt: now, expiresAt: now + this.ttlMs, hasCode: made.code !== undefined, ...(made.code ? { code: made.code } : {}) };
  }

  async invited(name: string): Promise<string | null> {
    // Case-insensitive like SQLite's NOCASE; of two spellings invited, the first made answers.
    const { rows } = await this.#pool.query<{ name: string }>(
      'SELECT name FROM oauth_invites WHERE lower(name) = lower($1) AND expires_at > $2 ORDER BY created_at LIMIT 1',
      [name.trim(), this.#now()],
    );
    return rows[0]?.name ?? null;
  }

  async redeemCode(code: string): Promise<string | null> {
    const hash = typedCodeHash(code);
    if (!hash) return null;
    // Found and spent in one statement: of two replicas presented the same code, one gets the name.
    const { rows } = await this.#pool.query<{ name: string }>(
      'UPDATE oauth_invites SET code_hash = NULL WHERE code_hash = $1 AND expires_at > $2 RETURNING name',
      [hash, this.#now()],
    );
    return rows[0]?.name ?? null;
  }

  async list(): Promise<Invite[]> {
    const { rows } = await this.#pool.query<InviteRow>('SELECT * FROM oauth_invites WHERE expires_at > $1 ORDER BY created_at', [this.#now()]);
    return rows.map(inviteFromRow);
  }

  async remove(name: string): Promise<boolean> {
    const { rowCount } = await this.#pool.query('DELETE FROM oauth_invites WHERE name = $1', [name]);
    return (rowCount ?? 0) > 0;
  }
}
