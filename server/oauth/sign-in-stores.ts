import { REVOCATION_CHECK_MS } from '../auth/revocation-watch.ts';
import type { SqliteDatabase } from '../store/sqlite-database.ts';
import type { GrantStore, GrantStoreOptions } from './grant-store.ts';
import { SqliteInviteStore, type InviteStore } from './invite-store.ts';
import { SignInRequests, type SignInRequestStore } from './sign-in-requests.ts';
import { SqliteGrantStore } from './sqlite-grant-store.ts';

/** Everything Sign in with Harbor keeps, from one backend (open-store.ts picks it). */
export interface SignInStores {
  grants: GrantStore;
  invites: InviteStore;
  requests: SignInRequestStore;
  /**
   * A teammate's sign-ins were revoked by another process: another replica (PostgreSQL, at once by
   * NOTIFY) or `harbor token revoke` writing the home's file (SQLite, within REVOCATION_CHECK_MS).
   */
  onTeammateRevoked?(listener: (teammate: string) => void): () => void;
  close(): Promise<void>;
}

export interface SignInStoreOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  grants?: Omit<GrantStoreOptions, 'now'>;
  requestTtlMs?: number;
  maxRequests?: number;
  /** How often a host on SQLite looks for revocations made by another process. */
  revocationCheckMs?: number;
}

/** One host: grants and invites in the home's SQLite file, waiting requests in memory. */
export function sqliteSignInStores(db: SqliteDatabase, options: SignInStoreOptions = {}): SignInStores {
  const now = options.now ?? Date.now;
  const grants = new SqliteGrantStore(db, { ...options.grants, now });
  return {
    grants,
    invites: new SqliteInviteStore(db, { now }),
    requests: new SignInRequests({ now, ...(options.requestTtlMs ? { ttlMs: options.requestTtlMs } : {}), ...(options.maxRequests ? { maxRequests: options.maxRequests } : {}) }),
    onTeammateRevoked: (listener) => pollRevocations(grants, listener, options.revocationCheckMs ?? REVOCATION_CHECK_MS),
    close: async () => {},
  };
}

/** The file has no channel to push on: looked at every `everyMs` (one PRAGMA while nothing changed). Returns stop(). */
function pollRevocations(grants: SqliteGrantStore, listener: (teammate: string) => void, everyMs: number): () => void {
  const timer = setInterval(() => {
    let revoked: string[];
    try {
      revoked = grants.revokedElsewhere();
    } catch {
      return; // a busy or full file: nothing is marked read, the next look reports it
    }
    for (const teammate of revoked) listener(teammate);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
