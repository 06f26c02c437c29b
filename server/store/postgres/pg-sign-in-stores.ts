import type { SignInStoreOptions, SignInStores } from '../../oauth/sign-in-stores.ts';
import { silentLogger, type Logger } from '../../logger.ts';
import { listenPostgres } from '../pg-listener.ts';
import type { PgPool } from '../postgres-database.ts';
import { PgGrantStore } from './pg-grant-store.ts';
import { PgInviteStore } from './pg-invite-store.ts';
import { OAUTH_CHANNEL, parseOAuthNotice } from './pg-oauth-channel.ts';
import { PgSignInRequests } from './pg-sign-in-requests.ts';

export interface PgSignInStoresOptions extends SignInStoreOptions {
  pool: PgPool;
  /** For the LISTEN connection. */
  url: string;
  log?: Logger;
}

/**
 * Sign in with Harbor on the replicas' PostgreSQL: grants, invites and waiting requests in shared
 * tables, and one LISTEN on `harbor_oauth` per replica feeding the grant store's cache (revocations)
 * and the requests' `onWaiting` (the owner's notification). Resolves once listening.
 */
export async function openPgSignInStores(options: PgSignInStoresOptions): Promise<SignInStores & { grants: PgGrantStore }> {
  const { pool, url } = options;
  const log = options.log ?? silentLogger;
  const now = options.now ?? Date.now;
  const grants = await PgGrantStore.open({ pool, ...options.grants, now });
  const invites = await PgInviteStore.open(pool, { now });
  const requests = await PgSignInRequests.open(pool, {
    now,
    ...(options.requestTtlMs ? { ttlMs: options.requestTtlMs } : {}),
    ...(options.maxRequests ? { maxRequests: options.maxRequests } : {}),
  });
  const listener = listenPostgres({
    url,
    channel: OAUTH_CHANNEL,
    log,
    onNotify: (payload) => {
      const notice = parseOAuthNotice(payload);
      if (!notice) return;
      grants.applyNotice(notice);
      requests.applyNotice(notice);
    },
    onConnected: () => grants.resync(),
  });
  await listener.ready;
  return { grants, invites, requests, onTeammateRevoked: (fn) => grants.onTeammateRevoked(fn), close: () => listener.close() };
}
