import type { PendingApproval } from '../../oauth/sign-in-requests.ts';
import type { PgClient, PgPool } from '../postgres-database.ts';

/**
 * One NOTIFY channel for Sign in with Harbor's replicas (one LISTEN connection each, not one per
 * concern): sign-ins revoked (every replica drops them from its cache of verified access tokens) and
 * sign-in requests starting to wait for the owner (every replica tells its own admin listeners).
 * Payloads carry no secret: families are hashes of spent codes, names and client names are shown to
 * the owner anyway. Sent inside the writing transaction, so they arrive after its commit.
 */
export const OAUTH_CHANNEL = 'harbor_oauth';

export type OAuthNotice =
  | { kind: 'revoked'; families: string[] }
  /** `by`: the sending store, which has ended what it revoked already. */
  | { kind: 'revoked-teammate'; teammate: string; by: string }
  | { kind: 'waiting'; approval: PendingApproval };

export async function notifyOAuth(client: PgClient | PgPool, notice: OAuthNotice): Promise<void> {
  await client.query('SELECT pg_notify($1, $2)', [OAUTH_CHANNEL, JSON.stringify(notice)]);
}

/** A payload read back; null for anything else on the channel (a newer replica's notice kind). */
export function parseOAuthNotice(payload: string): OAuthNotice | null {
  try {
    const notice = JSON.parse(payload) as OAuthNotice;
    return ['revoked', 'revoked-teammate', 'waiting'].includes(notice?.kind) ? notice : null;
  } catch {
    return null;
  }
}
