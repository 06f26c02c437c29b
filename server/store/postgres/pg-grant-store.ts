import { randomUUID, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { hashToken } from '../../auth/token-store.ts';
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
} from '../../oauth/grant-store.ts';
import { inTransaction, migratePostgres, type PgClient, type PgPool } from '../postgres-database.ts';
import { notifyOAuth, type OAuthNotice } from './pg-oauth-channel.ts';

const MIGRATIONS = grantMigrations({ bytes: 'BYTEA', integer: 'BIGINT' });

type Verified = VerifiedAccess & { family: string };
/** lru-cache stores no null: a token known not to grant access (unknown, revoked or expired: all final). */
const REFUSED = { refused: true } as const;

export interface PgGrantStoreOptions extends GrantStoreOptions {
  pool: PgPool;
  /** Access tokens remembered (granted or refused); beyond it the least recently used are read again. */
  cacheEntries?: number;
}

/**
 * Sign in with Harbor's grants in PostgreSQL, shared by every replica.
 *
 * Spending is atomic across replicas: a code is redeemed by `UPDATE … WHERE used_at IS NULL RETURNING`
 * and a refresh token rotated by `UPDATE … WHERE revoked_at IS NULL RETURNING`, so of two replicas
 * presented the same secret exactly one wins, and the loser (a replay) revokes the family.
 *
 * `verifyAccess` runs on every MCP request, so it answers from memory: the first sight of a token reads
 * its row (one indexed SELECT) and the answer is kept in a bounded LRU. Granted answers are dropped
 * when a revocation notice arrives on `harbor_oauth` (sent by the revoking transaction, from any
 * replica), and the whole cache when the LISTEN connection comes back (notices sent meanwhile are
 * lost); expiry is checked on each read. Refusals are kept too: a token that is unknown, revoked or
 * expired never becomes valid (a new token is a new random secret, inserted before anyone sees it).
 * A query that started before a revocation notice does not cache what it read (generation check).
 */
export class PgGrantStore implements GrantStore {
  readonly #pool: PgPool;
  readonly #now: () => number;
  readonly codeTtlMs: number;
  readonly accessTtlMs: number;
  readonly refreshTtlMs: number;
  readonly #verified: LRUCache<string, Verified | typeof REFUSED>;
  #generation = 0;
  /** Names this store on the channel, so it can tell its own teammate revocations from the others'. */
  readonly #id = randomUUID();
  readonly #teammateListeners = new Set<(teammate: string) => void>();

  private constructor(options: PgGrantStoreOptions) {
    this.#pool = options.pool;
    this.#now = options.now ?? Date.now;
    this.codeTtlMs = options.codeTtlMs ?? DEFAULT_GRANT_TTLS.codeTtlMs;
    this.accessTtlMs = options.accessTtlMs ?? DEFAULT_GRANT_TTLS.accessTtlMs;
    this.refreshTtlMs = options.refreshTtlMs ?? DEFAULT_GRANT_TTLS.refreshTtlMs;
    this.#verified = new LRUCache({ max: options.cacheEntries ?? 10_000 });
  }

  static async open(options: PgGrantStoreOptions): Promise<PgGrantStore> {
    await migratePostgres(options.pool, 'oauth-grants', MIGRATIONS);
    return new PgGrantStore(options);
  }

  /** A notice from the channel (another replica's revocation, or this one's echoed back). */
  applyNotice(notice: OAuthNotice): void {
    if (notice.kind === 'revoked') this.#forget((v) => notice.families.includes(v.family));
    else if (notice.kind === 'revoked-teammate') {
      this.#forget((v) => v.teammate === notice.teammate);
      if (notice.by !== this.#id) for (const listener of this.#teammateListeners) listener(notice.teammate);
    }
  }

  /** The LISTEN connection is (back) up: what was cached may have missed notices. */
  resync(): void {
    this.#generation++;
    this.#verified.clear();
  }

  /** A teammate's sign-ins were revoked through another replica: e.g. to close their sessions here. */
  onTeammateRevoked(listener: (teammate: string) => void): () => void {
    this.#teammateListeners.add(listener);
    return () => this.#teammateListeners.delete(listener);
  }

  async saveClient(clientId: string, metadata: Record<string, unknown>): Promise<void> {
    await this.#pool.query('INSERT INTO oauth_clients (client_id, metadata, created_at) VALUES ($1, $2, $3)', [clientId, JSON.stringify(metadata), this.#now()]);
  }

  async getClient(clientId: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await this.#pool.query<{ metadata: string }>('SELECT metadata FROM oauth_clients WHERE client_id = $1', [clientId]);
    return rows[0] ? (JSON.parse(rows[0].metadata) as Record<string, unknown>) : undefined;
  }

  async issueCode(grant: CodeGrant): Promise<string> {
    const code = newSecret(CODE_PREFIX);
    await this.#pool.query(
      `INSERT INTO oauth_codes (code_hash, client_id, teammate, resource, scopes, code_challenge, redirect_uri, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [hashToken(code), grant.clientId, grant.teammate, grant.resource, JSON.stringify(grant.scopes), grant.codeChallenge, grant.redirectUri, this.#now() + this.codeTtlMs],
    );
    return code;
  }

  async peekCode(code: string, clientId: string): Promise<CodeGrant | null> {
    const row = await this.#codeRow(this.#pool, code);
    const refusal = codeRefusal(row, clientId, this.#now());
    if (refusal === 'used') await this.#replayed(row!);
    return refusal ? null : codeGrant(row!);
  }

  async redeemCode(code: string, clientId: string): Promise<CodeGrant & { family: string }> {
    if (!hasShape(code, CODE_PREFIX)) throw new GrantError(CODE_REFUSALS.unknown);
    const hash = hashToken(code);
    const now = this.#now();
    const { rows } = await this.#pool.query<CodeRow>(
      'UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND client_id = $3 AND used_at IS NULL AND expires_at > $1 RETURNING *',
      [now, hash, clientId],
    );
    const spent = rows[0];
    if (spent && timingSafeEqual(spent.code_hash, hash)) return { ...codeGrant(spent), family: familyOf(spent.code_hash) };
    // Not spent by this call: say why, and revoke on a replay (also when another replica just won the race).
    const row = await this.#codeRow(this.#pool, code);
    const refusal = codeRefusal(row, clientId, now) ?? 'used';
    if (refusal === 'used') await this.#replayed(row!);
    throw new GrantError(CODE_REFUSALS[refusal]);
  }

  async issueTokens(grant: Grant, family: string): Promise<IssuedTokens> {
    // The code's row is share-locked while the pair goes in: a replay on another replica (which
    // marks the row, then revokes the family) either waits for this insert and revokes the pair, or
    // committed first and this issue is refused.
    return inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<{ replayed_at: number | null }>('SELECT replayed_at FROM oauth_codes WHERE code_hash = $1 FOR SHARE', [codeHashOf(family)]);
      if (rows[0] && rows[0].replayed_at !== null) throw new GrantError(CODE_REFUSALS.used);
      return this.#issue(client, grant, family);
    });
  }

  async verifyAccess(token: string): Promise<VerifiedAccess | null> {
    if (!hasShape(token, ACCESS_PREFIX)) return null;
    const key = hashToken(token).toString('base64');
    const now = this.#now();
    const cached = this.#verified.get(key);
    if (cached) return isRefused(cached) || cached.expiresAt <= now ? null : stripFamily(cached);
    const generation = this.#generation;
    const row = await this.#tokenRow(this.#pool, token, ACCESS_PREFIX);
    const access = liveAccess(row, now);
    if (generation === this.#generation) this.#verified.set(key, access ? { ...access, family: row!.family } : REFUSED);
    return access;
  }

  async rotateRefresh(token: string, clientId: string): Promise<{ grant: Grant; tokens: IssuedTokens }> {
    if (!hasShape(token, REFRESH_PREFIX)) throw new GrantError(REFRESH_REFUSALS.unknown);
    const hash = hashToken(token);
    const now = this.#now();
    const rotated = await inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<TokenRow>(
        `UPDATE oauth_tokens SET revoked_at = $1 WHERE token_hash = $2 AND kind = 'refresh' AND client_id = $3 AND revoked_at IS NULL AND expires_at > $1 RETURNING *`,
        [now, hash, clientId],
      );
      const spent = rows[0];
      if (!spent || !timingSafeEqual(spent.token_hash, hash)) return null;
      // The family's live access token goes with it: one live pair per sign-in.
      await this.#revokeFamiliesIn(client, [spent.family]);
      const grant = tokenGrant(spent);
      return { grant, tokens: await this.#issue(client, grant, spent.family), family: spent.family };
    });
    if (rotated) {
      this.#forget((v) => v.family === rotated.family);
      return { grant: rotated.grant, tokens: rotated.tokens };
    }
    const row = await this.#tokenRow(this.#pool, token, REFRESH_PREFIX);
    const refusal = refreshRefusal(row, clientId, now) ?? 'spent';
    if (refusal === 'spent') await this.#revokeFamilies([row!.family]);
    throw new GrantError(REFRESH_REFUSALS[refusal]);
  }

  async revoke(token: string, clientId: string): Promise<void> {
    const row = await this.#tokenRow(this.#pool, token, token.startsWith(REFRESH_PREFIX) ? REFRESH_PREFIX : ACCESS_PREFIX);
    if (row && row.client_id === clientId) await this.#revokeFamilies([row.family]);
  }

  async revokeTeammate(teammate: string): Promise<number> {
    const revoked = await inTransaction(this.#pool, async (client) => {
      const { rowCount } = await client.query('UPDATE oauth_tokens SET revoked_at = $1 WHERE teammate = $2 AND revoked_at IS NULL', [this.#now(), teammate]);
      if (rowCount) await notifyOAuth(client, { kind: 'revoked-teammate', teammate, by: this.#id });
      return rowCount ?? 0;
    });
    // This replica refuses them at once, before its own notice comes back.
    this.#forget((v) => v.teammate === teammate);
    return revoked;
  }

  async grants(): Promise<GrantSummary[]> {
    const { rows } = await this.#pool.query<GrantSummaryRow>(
      `SELECT t.teammate, t.client_id, t.client_name, t.resource, MIN(f.created_at) AS created_at, MAX(t.created_at) AS refreshed_at, MAX(c.metadata) AS metadata
         FROM oauth_tokens t
         JOIN oauth_tokens f ON f.family = t.family
         LEFT JOIN oauth_clients c ON c.client_id = t.client_id
        WHERE t.kind = 'refresh' AND t.revoked_at IS NULL AND t.expires_at > $1
        GROUP BY t.token_hash ORDER BY created_at`,
      [this.#now()],
    );
    return rows.map(grantSummary);
  }

  async prune(): Promise<void> {
    const now = this.#now();
    await this.#pool.query('DELETE FROM oauth_codes WHERE expires_at <= $1', [now - PRUNE_AFTER_MS]);
    await this.#pool.query('DELETE FROM oauth_tokens WHERE expires_at <= $1', [now - PRUNE_AFTER_MS]);
    // Registration is open (rate-limited): a client that never got a token is forgotten after a month.
    await this.#pool.query(
      'DELETE FROM oauth_clients c WHERE created_at <= $1 AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.client_id = c.client_id)',
      [now - IDLE_CLIENT_MS],
    );
  }

  async #issue(client: PgClient | PgPool, grant: Grant, family: string): Promise<IssuedTokens> {
    const accessToken = newSecret(ACCESS_PREFIX);
    const refreshToken = newSecret(REFRESH_PREFIX);
    const now = this.#now();
    const scopes = JSON.stringify(grant.scopes);
    // One statement for the pair: both rows or neither, without a transaction of its own.
    await client.query(
      `INSERT INTO oauth_tokens (token_hash, kind, family, client_id, teammate, resource, scopes, created_at, expires_at, client_name)
       VALUES ($1, 'access', $3, $4, $5, $6, $7, $8, $9, $11), ($2, 'refresh', $3, $4, $5, $6, $7, $8, $10, $11)`,
      [hashToken(accessToken), hashToken(refreshToken), family, grant.clientId, grant.teammate, grant.resource, scopes, now, now + this.accessTtlMs, now + this.refreshTtlMs, grant.clientName ?? null],
    );
    return { accessToken, refreshToken, expiresIn: Math.floor(this.accessTtlMs / 1000) };
  }

  /** A used code presented again: marked (no tokens may be issued for it any more), its family revoked, at once. */
  async #replayed(row: CodeRow): Promise<void> {
    const family = familyOf(row.code_hash);
    await inTransaction(this.#pool, async (client) => {
      await client.query('UPDATE oauth_codes SET replayed_at = $1 WHERE code_hash = $2', [this.#now(), row.code_hash]);
      await this.#revokeFamiliesIn(client, [family]);
    });
    this.#forget((v) => v.family === family);
  }

  async #revokeFamilies(families: string[]): Promise<void> {
    await inTransaction(this.#pool, (client) => this.#revokeFamiliesIn(client, families));
    this.#forget((v) => families.includes(v.family));
  }

  async #revokeFamiliesIn(client: PgClient, families: string[]): Promise<void> {
    const { rowCount } = await client.query('UPDATE oauth_tokens SET revoked_at = $1 WHERE family = ANY($2::text[]) AND revoked_at IS NULL', [this.#now(), families]);
    if (rowCount) await notifyOAuth(client, { kind: 'revoked', families });
  }

  /** Drops granted answers matching `which`; queries in flight will not cache what they read. */
  #forget(which: (verified: Verified) => boolean): void {
    this.#generation++;
    for (const [key, value] of this.#verified.entries()) if (!isRefused(value) && which(value)) this.#verified.delete(key);
  }

  async #codeRow(client: PgClient | PgPool, code: string): Promise<CodeRow | undefined> {
    if (!hasShape(code, CODE_PREFIX)) return undefined;
    const hash = hashToken(code);
    const { rows } = await client.query<CodeRow>('SELECT * FROM oauth_codes WHERE code_hash = $1', [hash]);
    return rows[0] && timingSafeEqual(rows[0].code_hash, hash) ? rows[0] : undefined;
  }

  async #tokenRow(client: PgClient | PgPool, token: string, prefix: string): Promise<TokenRow | undefined> {
    if (!hasShape(token, prefix)) return undefined;
    const hash = hashToken(token);
    const { rows } = await client.query<TokenRow>('SELECT * FROM oauth_tokens WHERE token_hash = $1', [hash]);
    // Looked up by hash; the final comparison is constant-time anyway (as in auth/token-store.ts).
    return rows[0] && timingSafeEqual(rows[0].token_hash, hash) ? rows[0] : undefined;
  }
}

function isRefused(value: Verified | typeof REFUSED): value is typeof REFUSED {
  return value === REFUSED;
}

function stripFamily(verified: Verified): VerifiedAccess {
  const { family: _family, ...access } = verified;
  return access;
}
