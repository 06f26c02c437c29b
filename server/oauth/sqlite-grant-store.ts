import { timingSafeEqual } from 'node:crypto';
import { hashToken } from '../auth/token-store.ts';
import { migrate, type SqliteDatabase } from '../store/sqlite-database.ts';
import {
  ACCESS_PREFIX,
  codeHashOf,
  CODE_PREFIX,
  CODE_REFUSALS,
  codeGrant,
  codeRefusal,
  DEFAULT_GRANT_TTLS,
  familyOf,
  GrantError,
  grantMigrations,
  grantSummary,
  hasShape,
  IDLE_CLIENT_MS,
  liveAccess,
  newSecret,
  PRUNE_AFTER_MS,
  REFRESH_PREFIX,
  REFRESH_REFUSALS,
  refreshRefusal,
  tokenGrant,
  type CodeGrant,
  type CodeRow,
  type Grant,
  type GrantStore,
  type GrantStoreOptions,
  type GrantSummary,
  type GrantSummaryRow,
  type IssuedTokens,
  type TokenRow,
  type VerifiedAccess,
} from './grant-store.ts';

const MIGRATIONS = grantMigrations({ bytes: 'BLOB', integer: 'INTEGER' });

/**
 * SQLite only (its own component, so the shared steps above keep their numbers): one row per
 * teammate revocation that ended a grant, which the host reads to learn of those made by another
 * process (`harbor token revoke` writing the file). A log rather than a diff of live grants: the
 * host's own rotations and RFC 7009 revocations revoke tokens too, and must not end sessions.
 * PostgreSQL replicas hear the same through NOTIFY (pg-grant-store.ts).
 */
const REVOCATION_LOG = [
  `CREATE TABLE oauth_teammate_revocations (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     teammate TEXT NOT NULL,
     revoked_at INTEGER NOT NULL
   )`,
];

/**
 * The grant store in the home's SQLite file (one host). The work is synchronous (node:sqlite); the
 * methods are async only to share the GrantStore interface with PostgreSQL. Each check-and-spend runs
 * in one transaction, so a code or refresh token is spent once even with two requests in flight.
 */
export class SqliteGrantStore implements GrantStore {
  readonly #db: SqliteDatabase;
  readonly #now: () => number;
  readonly codeTtlMs: number;
  readonly accessTtlMs: number;
  readonly refreshTtlMs: number;
  readonly #dataVersion;
  #seenVersion: number;
  /** The last revocation-log row read; those written through this store are skipped (#ownRevocations). */
  #seenSeq: number;
  readonly #ownRevocations = new Set<number>();

  constructor(db: SqliteDatabase, options: GrantStoreOptions = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.codeTtlMs = options.codeTtlMs ?? DEFAULT_GRANT_TTLS.codeTtlMs;
    this.accessTtlMs = options.accessTtlMs ?? DEFAULT_GRANT_TTLS.accessTtlMs;
    this.refreshTtlMs = options.refreshTtlMs ?? DEFAULT_GRANT_TTLS.refreshTtlMs;
    migrate(db, 'oauth', MIGRATIONS);
    migrate(db, 'oauth-revocations', REVOCATION_LOG);
    // Changes when another connection (another process) commits to the file; our own commits leave it.
    this.#dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.#seenVersion = this.#dataVersion.get() as number;
    this.#seenSeq = (db.prepare('SELECT COALESCE(MAX(seq), 0) FROM oauth_teammate_revocations').pluck().get() as number);
  }

  async saveClient(clientId: string, metadata: Record<string, unknown>): Promise<void> {
    this.#db.prepare('INSERT INTO oauth_clients (client_id, metadata, created_at) VALUES (?, ?, ?)').run(clientId, JSON.stringify(metadata), this.#now());
  }

  async getClient(clientId: string): Promise<Record<string, unknown> | undefined> {
    const row = this.#db.prepare('SELECT metadata FROM oauth_clients WHERE client_id = ?').get(clientId) as { metadata: string } | undefined;
    return row ? (JSON.parse(row.metadata) as Record<string, unknown>) : undefined;
  }

  async issueCode(grant: CodeGrant): Promise<string> {
    const code = newSecret(CODE_PREFIX);
    this.#db
      .prepare(
        `INSERT INTO oauth_codes (code_hash, client_id, teammate, resource, scopes, code_challenge, redirect_uri, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(hashToken(code), grant.clientId, grant.teammate, grant.resource, JSON.stringify(grant.scopes), grant.codeChallenge, grant.redirectUri, this.#now() + this.codeTtlMs);
    return code;
  }

  async peekCode(code: string, clientId: string): Promise<CodeGrant | null> {
    const row = this.#codeRow(code);
    const refusal = codeRefusal(row, clientId, this.#now());
    if (refusal === 'used') this.#replayed(row!);
    return refusal ? null : codeGrant(row!);
  }

  async redeemCode(code: string, clientId: string): Promise<CodeGrant & { family: string }> {
    // Refusals are returned, not thrown, inside the transaction: a throw would roll back the revocation.
    const outcome = this.#db.transaction((): (CodeGrant & { family: string }) | string => {
      const row = this.#codeRow(code);
      const refusal = codeRefusal(row, clientId, this.#now());
      if (refusal === 'used') this.#replayed(row!);
      if (refusal) return CODE_REFUSALS[refusal];
      this.#db.prepare('UPDATE oauth_codes SET used_at = ? WHERE code_hash = ?').run(this.#now(), row!.code_hash);
      return { ...codeGrant(row!), family: familyOf(row!.code_hash) };
    })();
    if (typeof outcome === 'string') throw new GrantError(outcome);
    return outcome;
  }

  async issueTokens(grant: Grant, family: string): Promise<IssuedTokens> {
    const replayed = this.#db.prepare('SELECT 1 FROM oauth_codes WHERE code_hash = ? AND replayed_at IS NOT NULL').get(codeHashOf(family));
    if (replayed) throw new GrantError(CODE_REFUSALS.used);
    return this.#issue(grant, family);
  }

  async verifyAccess(token: string): Promise<VerifiedAccess | null> {
    return liveAccess(this.#tokenRow(token, ACCESS_PREFIX), this.#now());
  }

  async rotateRefresh(token: string, clientId: string): Promise<{ grant: Grant; tokens: IssuedTokens }> {
    const outcome = this.#db.transaction((): { grant: Grant; tokens: IssuedTokens } | string => {
      const row = this.#tokenRow(token, REFRESH_PREFIX);
      const refusal = refreshRefusal(row, clientId, this.#now());
      if (refusal === 'spent') this.#revokeFamily(row!.family);
      if (refusal) return REFRESH_REFUSALS[refusal];
      // The family's live access token goes with it: one live pair per sign-in.
      this.#revokeFamily(row!.family);
      const grant = tokenGrant(row!);
      return { grant, tokens: this.#issue(grant, row!.family) };
    })();
    if (typeof outcome === 'string') throw new GrantError(outcome);
    return outcome;
  }

  async revoke(token: string, clientId: string): Promise<void> {
    const row = this.#tokenRow(token, token.startsWith(REFRESH_PREFIX) ? REFRESH_PREFIX : ACCESS_PREFIX);
    if (row && row.client_id === clientId) this.#revokeFamily(row.family);
  }

  async revokeTeammate(teammate: string): Promise<number> {
    const now = this.#now();
    return this.#db.transaction(() => {
      const revoked = Number(this.#db.prepare('UPDATE oauth_tokens SET revoked_at = ? WHERE teammate = ? AND revoked_at IS NULL').run(now, teammate).changes);
      if (revoked > 0) {
        const logged = this.#db.prepare('INSERT INTO oauth_teammate_revocations (teammate, revoked_at) VALUES (?, ?)').run(teammate, now);
        this.#ownRevocations.add(Number(logged.lastInsertRowid));
      }
      return revoked;
    })();
  }

  /**
   * Teammates whose sign-ins another process revoked since the last call (each reported once), so
   * the host can end their sessions. One `PRAGMA data_version` while nobody else wrote the file.
   */
  revokedElsewhere(): string[] {
    const version = this.#dataVersion.get() as number;
    if (version === this.#seenVersion) return [];
    const rows = this.#db.prepare('SELECT seq, teammate FROM oauth_teammate_revocations WHERE seq > ? ORDER BY seq').all(this.#seenSeq) as { seq: number; teammate: string }[];
    this.#seenVersion = version; // only once read: a failed read is tried again on the next look
    const teammates = new Set<string>();
    for (const { seq, teammate } of rows) {
      this.#seenSeq = seq;
      if (!this.#ownRevocations.delete(seq)) teammates.add(teammate);
    }
    for (const seq of this.#ownRevocations) if (seq <= this.#seenSeq) this.#ownRevocations.delete(seq); // pruned before read
    return [...teammates];
  }

  async grants(): Promise<GrantSummary[]> {
    const rows = this.#db
      .prepare(
        `SELECT t.teammate, t.client_id, t.client_name, t.resource, MIN(f.created_at) AS created_at, MAX(t.created_at) AS refreshed_at, c.metadata
           FROM oauth_tokens t
           JOIN oauth_tokens f ON f.family = t.family
           LEFT JOIN oauth_clients c ON c.client_id = t.client_id
          WHERE t.kind = 'refresh' AND t.revoked_at IS NULL AND t.expires_at > ?
          GROUP BY t.token_hash ORDER BY created_at`,
      )
      .all(this.#now()) as unknown as GrantSummaryRow[];
    return rows.map(grantSummary);
  }

  async prune(): Promise<void> {
    const now = this.#now();
    this.#db.prepare('DELETE FROM oauth_codes WHERE expires_at <= ?').run(now - PRUNE_AFTER_MS);
    this.#db.prepare('DELETE FROM oauth_tokens WHERE expires_at <= ?').run(now - PRUNE_AFTER_MS);
    // Read within a second by a running host; kept a day like the tokens, never the newest (AUTOINCREMENT never reuses a seq anyway).
    this.#db.prepare('DELETE FROM oauth_teammate_revocations WHERE revoked_at <= ?').run(now - PRUNE_AFTER_MS);
    // Registration is open (rate-limited): a client that never got a token is forgotten after a month.
    this.#db.prepare('DELETE FROM oauth_clients WHERE created_at <= ? AND client_id NOT IN (SELECT client_id FROM oauth_tokens)').run(now - IDLE_CLIENT_MS);
  }

  #issue(grant: Grant, family: string): IssuedTokens {
    const accessToken = newSecret(ACCESS_PREFIX);
    const refreshToken = newSecret(REFRESH_PREFIX);
    const now = this.#now();
    const insert = this.#db.prepare(
      `INSERT INTO oauth_tokens (token_hash, kind, family, client_id, teammate, resource, scopes, created_at, expires_at, client_name)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const scopes = JSON.stringify(grant.scopes);
    const name = grant.clientName ?? null;
    this.#db.transaction(() => {
      insert.run(hashToken(accessToken), 'access', family, grant.clientId, grant.teammate, grant.resource, scopes, now, now + this.accessTtlMs, name);
      insert.run(hashToken(refreshToken), 'refresh', family, grant.clientId, grant.teammate, grant.resource, scopes, now, now + this.refreshTtlMs, name);
    })();
    return { accessToken, refreshToken, expiresIn: Math.floor(this.accessTtlMs / 1000) };
  }

  /** A used code presented again: marked (no tokens may be issued for it any more), its family revoked. */
  #replayed(row: CodeRow): void {
    this.#db.prepare('UPDATE oauth_codes SET replayed_at = ? WHERE code_hash = ?').run(this.#now(), row.code_hash);
    this.#revokeFamily(familyOf(row.code_hash));
  }

  #revokeFamily(family: string): void {
    this.#db.prepare('UPDATE oauth_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL').run(this.#now(), family);
  }

  #codeRow(code: string): CodeRow | undefined {
    if (!hasShape(code, CODE_PREFIX)) return undefined;
    const hash = hashToken(code);
    const row = this.#db.prepare('SELECT * FROM oauth_codes WHERE code_hash = ?').get(hash) as CodeRow | undefined;
    return row && timingSafeEqual(row.code_hash, hash) ? row : undefined;
  }

  #tokenRow(token: string, prefix: string): TokenRow | undefined {
    if (!hasShape(token, prefix)) return undefined;
    const hash = hashToken(token);
    const row = this.#db.prepare('SELECT * FROM oauth_tokens WHERE token_hash = ?').get(hash) as TokenRow | undefined;
    // Looked up by hash; the final comparison is constant-time anyway (as in auth/token-store.ts).
    return row && timingSafeEqual(row.token_hash, hash) ? row : undefined;
  }
}
