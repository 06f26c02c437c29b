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
  /** Replicas: a teammate's sign-ins were revoked through another replica (absent on one host). */
  onTeammateRevoked?(listener: (teammate: string) => void): () => void;
  close(): Promise<void>;
}

export interface SignInStoreOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  grants?: Omit<GrantStoreOptions, 'now'>;
  requestTtlMs?: number;
  maxRequests?: number;
}

/** One host: grants and invites in the home's SQLite file, waiting requests in memory. */
export function sqliteSignInStores(db: SqliteDatabase, options: SignInStoreOptions = {}): SignInStores {
  const now = options.now ?? Date.now;
  return {
    grants: new SqliteGrantStore(db, { ...options.grants, now }),
    invites: new SqliteInviteStore(db, { now }),
    requests: new SignInRequests({ now, ...(options.requestTtlMs ? { ttlMs: options.requestTtlMs } : {}), ...(options.maxRequests ? { maxRequests: options.maxRequests } : {}) }),
    close: async () => {},
  };
}
