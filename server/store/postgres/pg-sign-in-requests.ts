import { timingSafeEqual } from 'node:crypto';
import { hashToken } from '../../auth/token-store.ts';
import {
  checkCsrf,
  MAX_REQUESTS,
  newSignInRequest,
  REFUSED,
  REQUEST_TTL_MS,
  toApproval,
  type AuthorizationRequest,
  type OpenedSignInRequest,
  type PendingApproval,
  type SignInRequest,
  type SignInRequestsOptions,
  type SignInRequestStore,
  type SignInStatus,
} from '../../oauth/sign-in-requests.ts';
import { inTransaction, migratePostgres, type PgPool } from '../postgres-database.ts';
import { notifyOAuth, type OAuthNotice } from './pg-oauth-channel.ts';

const MIGRATIONS = [
  `CREATE TABLE oauth_sign_in_requests (
     id TEXT PRIMARY KEY,
     csrf TEXT NOT NULL,
     browser_hash BYTEA NOT NULL,
     authorization_request TEXT NOT NULL,
     opened_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('form', 'waiting', 'approved', 'denied')),
     teammate TEXT,
     invited BOOLEAN NOT NULL DEFAULT false,
     submitted_at BIGINT
   );
   CREATE INDEX oauth_sign_in_requests_expiry ON oauth_sign_in_requests (expires_at);`,
];

interface RequestRow {
  id: string;
  csrf: string;
  browser_hash: Buffer;
  authorization_request: string;
  opened_at: number;
  expires_at: number;
  status: SignInStatus;
  teammate: string | null;
  invited: boolean;
  submitted_at: number | null;
}

/** Serialises `open`'s count-then-insert across replicas, so the cap holds exactly. */
const OPEN_LOCK = 0x4861_7273; // "Hars"

/**
 * Sign-in requests in PostgreSQL: opened on one replica, polled, submitted and approved on any. Every
 * change of state is one conditional UPDATE or DELETE (`WHERE status = …`), so a request is submitted
 * once, answered once and turned into a code once however the load balancer spreads the calls. The
 * browser secret is kept as its SHA-256 (the table alone cannot drive someone's sign-in); the CSRF
 * token is kept plain, since the sign-in form is rendered again from it and it is useless without the
 * cookie. The owner's "wants to connect" goes out as a notice on `harbor_oauth`, and every replica,
 * this one included, calls `onWaiting` when it arrives (applyNotice).
 */
export class PgSignInRequests implements SignInRequestStore {
  readonly #pool: PgPool;
  readonly #now: () => number;
  readonly ttlMs: number;
  readonly #max: number;
  onWaiting: (approval: PendingApproval) => void = () => {};

  private constructor(pool: PgPool, options: SignInRequestsOptions) {
    this.#pool = pool;
    this.#now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? REQUEST_TTL_MS;
    this.#max = options.maxRequests ?? MAX_REQUESTS;
  }

  static async open(pool: PgPool, options: SignInRequestsOptions = {}): Promise<PgSignInRequests> {
    await migratePostgres(pool, 'oauth-sign-in-requests', MIGRATIONS);
    return new PgSignInRequests(pool, options);
  }

  applyNotice(notice: OAuthNotice): void {
    if (notice.kind === 'waiting') this.onWaiting(notice.approval);
  }

  async open(authorization: AuthorizationRequest): Promise<OpenedSignInRequest> {
    const now = this.#now();
    const request = newSignInRequest(authorization, now, this.ttlMs);
    await inTransaction(this.#pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [OPEN_LOCK]);
      await client.query('DELETE FROM oauth_sign_in_requests WHERE expires_at <= $1', [now]);
      const { rows } = await client.query<{ live: number }>('SELECT count(*)::bigint AS live FROM oauth_sign_in_requests');
      if (rows[0]!.live >= this.#max) throw REFUSED.full();
      await client.query(
        `INSERT INTO oauth_sign_in_requests (id, csrf, browser_hash, authorization_request, opened_at, expires_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, 'form')`,
        [request.id, request.csrf, hashToken(request.browser), JSON.stringify(authorization), now, request.expiresAt],
      );
    });
    return request;
  }

  async get(id: string, browser: string | undefined, csrf?: string | null): Promise<SignInRequest> {
    const row = await this.#live(id);
    if (!row) throw REFUSED.unknown();
    if (!browser || !timingSafeEqual(hashToken(browser), row.browser_hash)) throw REFUSED.otherBrowser();
    const request = fromRow(row);
    checkCsrf(request, csrf);
    return request;
  }

  async submit(id: string, teammate: string, { invited, preApproved }: { invited: boolean; preApproved: boolean }): Promise<void> {
    const now = this.#now();
    const status: SignInStatus = preApproved ? 'approved' : 'waiting';
    await inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<RequestRow>(
        `UPDATE oauth_sign_in_requests SET teammate = $2, invited = $3, submitted_at = $4, expires_at = $5, status = $6
          WHERE id = $1 AND status = 'form' AND expires_at > $4 RETURNING *`,
        [id, teammate, invited, now, now + this.ttlMs, status],
      );
      if (!rows[0]) throw (await this.#live(id)) ? REFUSED.submitted() : REFUSED.unknown();
      if (!preApproved) await notifyOAuth(client, { kind: 'waiting', approval: toApproval(fromRow(rows[0])) });
    });
  }

  async decide(id: string, approve: boolean): Promise<PendingApproval> {
    const { rows } = await this.#pool.query<RequestRow>(
      `UPDATE oauth_sign_in_requests SET status = $2 WHERE id = $1 AND status = 'waiting' AND expires_at > $3 RETURNING *`,
      [id, approve ? 'approved' : 'denied', this.#now()],
    );
    if (!rows[0]) throw REFUSED.notWaiting(id);
    return toApproval(fromRow(rows[0]));
  }

  async finish(id: string, status: 'approved' | 'denied'): Promise<boolean> {
    const { rowCount } = await this.#pool.query('DELETE FROM oauth_sign_in_requests WHERE id = $1 AND status = $2', [id, status]);
    return (rowCount ?? 0) > 0;
  }

  async pending(): Promise<PendingApproval[]> {
    const { rows } = await this.#pool.query<RequestRow>(
      `SELECT * FROM oauth_sign_in_requests WHERE status = 'waiting' AND expires_at > $1 ORDER BY submitted_at, id`,
      [this.#now()],
    );
    return rows.map((row) => toApproval(fromRow(row)));
  }

  async dropTeammate(teammate: string): Promise<void> {
    await this.#pool.query('DELETE FROM oauth_sign_in_requests WHERE teammate = $1', [teammate]);
  }

  async #live(id: string): Promise<RequestRow | undefined> {
    const { rows } = await this.#pool.query<RequestRow>('SELECT * FROM oauth_sign_in_requests WHERE id = $1 AND expires_at > $2', [id, this.#now()]);
    return rows[0];
  }
}

function fromRow(row: RequestRow): SignInRequest {
  return {
    id: row.id,
    csrf: row.csrf,
    authorization: JSON.parse(row.authorization_request) as AuthorizationRequest,
    openedAt: row.opened_at,
    expiresAt: row.expires_at,
    status: row.status,
    teammate: row.teammate,
    invited: row.invited,
    submittedAt: row.submitted_at,
  };
}
