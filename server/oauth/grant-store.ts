import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hashToken } from '../auth/token-store.ts';
import { migrate, type SqliteDatabase } from '../store/sqlite-database.ts';

/**
 * What Sign in with Harbor keeps in SQLite: registered clients, authorization codes and
 * access/refresh tokens. Codes and tokens are stored as SHA-256 hashes like static tokens
 * (auth/token-store.ts): the database alone never grants access.
 */

/** A grant: what a code or token stands for. */
export interface Grant {
  clientId: string;
  teammate: string;
  /** RFC 8707 resource the grant is bound to (a server URL, or the origin for all servers). */
  resource: string;
  scopes: string[];
}

export interface CodeGrant extends Grant {
  codeChallenge: string;
  redirectUri: string;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token lives. */
  expiresIn: number;
}

export interface VerifiedAccess extends Grant {
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface GrantSummary {
  teammate: string;
  clientId: string;
  clientName: string | null;
  resource: string;
  createdAt: number;
  lastRefreshedAt: number | null;
}

export interface GrantStoreOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Short-lived on purpose (OAuth 2.1 asks for minutes at most): a code travels once, right away. */
  codeTtlMs?: number;
  accessTtlMs?: number;
  refreshTtlMs?: number;
}

const MIGRATIONS = [
  `CREATE TABLE oauth_clients (
     client_id TEXT PRIMARY KEY,
     metadata TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE oauth_codes (
     code_hash BLOB PRIMARY KEY,
     client_id TEXT NOT NULL,
     teammate TEXT NOT NULL,
     resource TEXT NOT NULL,
     scopes TEXT NOT NULL,
     code_challenge TEXT NOT NULL,
     redirect_uri TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER
   );
   CREATE TABLE oauth_tokens (
     token_hash BLOB PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
     family TEXT NOT NULL,
     client_id TEXT NOT NULL,
     teammate TEXT NOT NULL,
     resource TEXT NOT NULL,
     scopes TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     revoked_at INTEGER
   );
   CREATE INDEX oauth_tokens_family ON oauth_tokens (family);
   CREATE INDEX oauth_tokens_teammate ON oauth_tokens (teammate);`,
];

const ACCESS_PREFIX = 'hoa_';
const REFRESH_PREFIX = 'hor_';
const CODE_PREFIX = 'hoc_';

function secret(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

interface TokenRow {
  token_hash: Buffer;
  kind: 'access' | 'refresh';
  family: string;
  client_id: string;
  teammate: string;
  resource: string;
  scopes: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

interface CodeRow {
  code_hash: Buffer;
  client_id: string;
  teammate: string;
  resource: string;
  scopes: string;
  code_challenge: string;
  redirect_uri: string;
  expires_at: number;
  used_at: number | null;
}

export class GrantError extends Error {
  override name = 'GrantError';
}

export class SqliteGrantStore {
  readonly #db: SqliteDatabase;
  readonly #now: () => number;
  readonly codeTtlMs: number;
  readonly accessTtlMs: number;
  readonly refreshTtlMs: number;

  constructor(db: SqliteDatabase, options: GrantStoreOptions = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.codeTtlMs = options.codeTtlMs ?? 60_000;
    this.accessTtlMs = options.accessTtlMs ?? 60 * 60_000;
    this.refreshTtlMs = options.refreshTtlMs ?? 30 * 86_400_000;
    migrate(db, 'oauth', MIGRATIONS);
  }

  // Clients (dynamic registration; metadata as the SDK hands it over).

  saveClient(clientId: string, metadata: Record<string, unknown>): void {
    this.#db
      .prepare('INSERT INTO oauth_clients (client_id, metadata, created_at) VALUES (?, ?, ?)')
      .run(clientId, JSON.stringify(metadata), this.#now());
  }

  getClient(clientId: string): Record<string, unknown> | undefined {
    const row = this.#db.prepare('SELECT metadata FROM oauth_clients WHERE client_id = ?').get(clientId) as { metadata: string } | undefined;
    return row ? (JSON.parse(row.metadata) as Record<string, unknown>) : undefined;
  }

  // Authorization codes: single use, short-lived.

  issueCode(grant: CodeGrant): string {
    const code = secret(CODE_PREFIX);
    this.#db
      .prepare(
        `INSERT INTO oauth_codes (code_hash, client_id, teammate, resource, scopes, code_challenge, redirect_uri, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(hashToken(code), grant.clientId, grant.teammate, grant.resource, JSON.stringify(grant.scopes), grant.codeChallenge, grant.redirectUri, this.#now() + this.codeTtlMs);
    return code;
  }

  /**
   * The code's grant if it is live and belongs to `clientId` (the SDK asks for the PKCE challenge before
   * redeeming). A used code presented again is a replay: the tokens its first use issued are revoked.
   */
  peekCode(code: string, clientId: string): CodeGrant | null {
    const row = this.#codeRow(code);
    if (!row || row.client_id !== clientId) return null;
    if (row.used_at !== null) {
      this.#revokeFamily(row.code_hash.toString('base64url'));
      return null;
    }
    return row.expires_at <= this.#now() ? null : codeGrant(row);
  }

  /**
   * Marks the code used and returns its grant; a second redemption fails, and (RFC 6749 10.5) revokes
   * the tokens the first one issued, since one of the two callers is not the client.
   */
  redeemCode(code: string, clientId: string): CodeGrant & { family: string } {
    const hash = hashToken(code);
    // Refusals are returned, not thrown, inside the transaction: a throw would roll back the revocation.
    const outcome = this.#db.transaction((): (CodeGrant & { family: string }) | string => {
      const row = this.#codeRow(code);
      if (!row || row.client_id !== clientId) return 'unknown authorization code';
      const family = hash.toString('base64url');
      if (row.used_at !== null) {
        this.#revokeFamily(family);
        return 'authorization code already used';
      }
      if (row.expires_at <= this.#now()) return 'authorization code expired';
      this.#db.prepare('UPDATE oauth_codes SET used_at = ? WHERE code_hash = ?').run(this.#now(), hash);
      return { ...codeGrant(row), family };
    })();
    if (typeof outcome === 'string') throw new GrantError(outcome);
    return outcome;
  }

  #codeRow(code: string): CodeRow | undefined {
    if (!code.startsWith(CODE_PREFIX) || code.length > 128) return undefined;
    const hash = hashToken(code);
    const row = this.#db.prepare('SELECT * FROM oauth_codes WHERE code_hash = ?').get(hash) as CodeRow | undefined;
    return row && timingSafeEqual(row.code_hash, hash) ? row : undefined;
  }

  // Tokens.

  /** A new access + refresh pair in `family` (one family per sign-in; refreshes stay in it). */
  issueTokens(grant: Grant, family: string): IssuedTokens {
    const accessToken = secret(ACCESS_PREFIX);
    const refreshToken = secret(REFRESH_PREFIX);
    const now = this.#now();
    const insert = this.#db.prepare(
      `INSERT INTO oauth_tokens (token_hash, kind, family, client_id, teammate, resource, scopes, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const scopes = JSON.stringify(grant.scopes);
    this.#db.transaction(() => {
      insert.run(hashToken(accessToken), 'access', family, grant.clientId, grant.teammate, grant.resource, scopes, now, now + this.accessTtlMs);
      insert.run(hashToken(refreshToken), 'refresh', family, grant.clientId, grant.teammate, grant.resource, scopes, now, now + this.refreshTtlMs);
    })();
    return { accessToken, refreshToken, expiresIn: Math.floor(this.accessTtlMs / 1000) };
  }

  verifyAccess(token: string): VerifiedAccess | null {
    const row = this.#tokenRow(token, ACCESS_PREFIX);
    if (!row || row.kind !== 'access' || row.revoked_at !== null || row.expires_at <= this.#now()) return null;
    return { ...tokenGrant(row), expiresAt: row.expires_at };
  }

  /**
   * Rotation: the presented refresh token is spent and a new pair issued in the same family. A spent
   * refresh token presented again means it leaked: the whole family is revoked (OAuth 2.1 4.3.1).
   */
  rotateRefresh(token: string, clientId: string): { grant: Grant; tokens: IssuedTokens } {
    const outcome = this.#db.transaction((): { grant: Grant; tokens: IssuedTokens } | string => {
      const row = this.#tokenRow(token, REFRESH_PREFIX);
      if (!row || row.kind !== 'refresh' || row.client_id !== clientId) return 'unknown refresh token';
      if (row.revoked_at !== null) {
        this.#revokeFamily(row.family);
        return 'refresh token already used or revoked';
      }
      if (row.expires_at <= this.#now()) return 'refresh token expired';
      // The family's live access token goes with it: one live pair per sign-in.
      this.#revokeFamily(row.family);
      const grant = tokenGrant(row);
      return { grant, tokens: this.issueTokens(grant, row.family) };
    })();
    if (typeof outcome === 'string') throw new GrantError(outcome);
    return outcome;
  }

  /** RFC 7009: revoking either token of a pair ends the sign-in (the family). Unknown tokens: no-op. */
  revoke(token: string, clientId: string): void {
    const row = this.#tokenRow(token, token.startsWith(REFRESH_PREFIX) ? REFRESH_PREFIX : ACCESS_PREFIX);
    if (row && row.client_id === clientId) this.#revokeFamily(row.family);
  }

  /** Every live grant of a teammate ends (revoking a teammate revokes their sign-ins and static token alike). */
  revokeTeammate(teammate: string): number {
    const result = this.#db.prepare('UPDATE oauth_tokens SET revoked_at = ? WHERE teammate = ? AND revoked_at IS NULL').run(this.#now(), teammate);
    return result.changes;
  }

  /** Live sign-ins (one per family with a live refresh token), for the Team tab and `harbor token list`. */
  grants(): GrantSummary[] {
    const rows = this.#db
      .prepare(
        `SELECT t.teammate, t.client_id, t.resource, MIN(f.created_at) AS created_at, MAX(t.created_at) AS refreshed_at, c.metadata
           FROM oauth_tokens t
           JOIN oauth_tokens f ON f.family = t.family
           LEFT JOIN oauth_clients c ON c.client_id = t.client_id
          WHERE t.kind = 'refresh' AND t.revoked_at IS NULL AND t.expires_at > ?
          GROUP BY t.token_hash ORDER BY created_at`,
      )
      .all(this.#now()) as Array<{ teammate: string; client_id: string; resource: string; created_at: number; refreshed_at: number; metadata: string | null }>;
    return rows.map((r) => ({
      teammate: r.teammate,
      clientId: r.client_id,
      clientName: r.metadata ? ((JSON.parse(r.metadata) as { client_name?: string }).client_name ?? null) : null,
      resource: r.resource,
      createdAt: r.created_at,
      lastRefreshedAt: r.refreshed_at === r.created_at ? null : r.refreshed_at,
    }));
  }

  /** Drops expired codes and tokens long past use; called now and then by the host. */
  prune(): void {
    const now = this.#now();
    this.#db.prepare('DELETE FROM oauth_codes WHERE expires_at <= ?').run(now - 86_400_000);
    this.#db.prepare('DELETE FROM oauth_tokens WHERE expires_at <= ?').run(now - 86_400_000);
    // Registration is open (rate-limited): a client that never got a token is forgotten after a month.
    this.#db
      .prepare('DELETE FROM oauth_clients WHERE created_at <= ? AND client_id NOT IN (SELECT client_id FROM oauth_tokens)')
      .run(now - 30 * 86_400_000);
  }

  #revokeFamily(family: string): void {
    this.#db.prepare('UPDATE oauth_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL').run(this.#now(), family);
  }

  #tokenRow(token: string, prefix: string): TokenRow | undefined {
    if (!token.startsWith(prefix) || token.length > 128) return undefined;
    const hash = hashToken(token);
    const row = this.#db.prepare('SELECT * FROM oauth_tokens WHERE token_hash = ?').get(hash) as TokenRow | undefined;
    // Looked up by hash; the final comparison is constant-time anyway (as in auth/token-store.ts).
    return row && timingSafeEqual(row.token_hash, hash) ? row : undefined;
  }
}

function codeGrant(row: CodeRow): CodeGrant {
  return {
    clientId: row.client_id,
    teammate: row.teammate,
    resource: row.resource,
    scopes: JSON.parse(row.scopes) as string[],
    codeChallenge: row.code_challenge,
    redirectUri: row.redirect_uri,
  };
}

function tokenGrant(row: TokenRow): Grant {
  return { clientId: row.client_id, teammate: row.teammate, resource: row.resource, scopes: JSON.parse(row.scopes) as string[] };
}
