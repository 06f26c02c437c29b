import { hostname } from 'node:os';
import type { AuditStore } from './access/audit-store.ts';
import { SqliteAuditStore } from './access/sqlite-audit-store.ts';
import { SqliteTokenStore, type TokenStore } from './auth/token-store.ts';
import { importHashedTokens, type HashedTokens } from './auth/token-transfer.ts';
import type { CacheStoreFactory } from './cache/cache-store.ts';
import { sqliteCacheStoreFactory } from './cache/sqlite-cache-store.ts';
import type { HarborPaths } from './harbor-home.ts';
import { silentLogger, type Logger } from './logger.ts';
import { MetricHistory } from './metrics/history.ts';
import type { PgPool } from './store/postgres-database.ts';
import type { PgReplicaDirectory } from './store/postgres/pg-replica-directory.ts';
import { openDatabase, type SqliteDatabase } from './store/sqlite-database.ts';
import type { SignInStoreOptions, SignInStores } from './oauth/sign-in-stores.ts';

/**
 * The storage seam: every concern the host keeps (tokens, audit log, the caches' disk layer, metric
 * history) behind its own interface, with a SQLite implementation (one host, the default) and a
 * PostgreSQL one (replicas sharing HARBOR_DATABASE_URL), chosen here and nowhere else.
 *
 * (A module at server/'s top, beside host.ts, rather than in server/store/: it imports auth/, access/,
 * cache/ and metrics/, which themselves import server/store/sqlite-database.ts, and a folder may not
 * loop with another — test/unit/import-graph.test.ts.)
 */
export interface StoreOptions {
  paths: HarborPaths;
  /** `store.url` from config.json; HARBOR_DATABASE_URL in `env` wins. */
  configUrl?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Stamped on audit rows and metric history; default HARBOR_REPLICA, else the host name. */
  replica?: string;
  log?: Logger;
  /** How often token use and unwritten revocations are retried (default 5 s). */
  tokenFlushMs?: number;
}

export interface HarborStore {
  kind: 'sqlite' | 'postgres';
  /** Where the data lives, without a password. */
  description: string;
  replica: string;
  /** The home's SQLite file. With PostgreSQL it holds nothing the replicas share. */
  db: SqliteDatabase;
  tokens: TokenStore;
  audit: AuditStore;
  /** The disk layer of the bounded caches. */
  cache: CacheStoreFactory;
  history: MetricHistory;
  /**
   * The `replica` label for /metrics: the replica's name when there are replicas (PostgreSQL, or
   * HARBOR_REPLICA set), else null so a single host's metrics keep their plain names.
   */
  metricsLabel: string | null;
  /**
   * The key signing 2026-07-28 requestStates: HARBOR_STATE_SECRET, else (PostgreSQL) one shared in
   * the database, else null (a random key per process: one host, nobody else verifies its states).
   */
  stateSecret: Buffer | null;
  /** Where the other replicas can be reached (PostgreSQL only), for forwarding continuations. */
  replicas: PgReplicaDirectory | null;
  /**
   * Sign in with Harbor's grants, invites and waiting requests (the home's file and memory, or shared
   * tables and a LISTEN), opened by the host only when sign-in is on; closed with the store.
   */
  signIn(options?: SignInStoreOptions): Promise<SignInStores>;
  /** Writes what is pending (token use, revocations) and closes everything it opened. */
  close(): Promise<void>;
}

/**
 * The PostgreSQL side (pg and the stores on it), loaded only when a database URL is set: SQLite is the
 * default, and pg's 35 modules were the host's for nothing (measured: idle host RSS 89.0 -> 87.8 MB).
 * The types stay static imports.
 */
async function postgresModules() {
  const [database, audit, cache, history, replicas, secret, tokens] = await Promise.all([
    import('./store/postgres-database.ts'),
    import('./store/postgres/pg-audit-store.ts'),
    import('./store/postgres/pg-cache-store.ts'),
    import('./store/postgres/pg-history-backend.ts'),
    import('./store/postgres/pg-replica-directory.ts'),
    import('./store/postgres/pg-shared-secret.ts'),
    import('./store/postgres/pg-token-store.ts'),
  ]);
  return { ...database, ...audit, ...cache, ...history, ...replicas, ...secret, ...tokens };
}

/** HARBOR_DATABASE_URL, else `store.url`, else null (SQLite). */
export function databaseUrl(configUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  return env.HARBOR_DATABASE_URL?.trim() || configUrl || null;
}

export function replicaName(env: NodeJS.ProcessEnv = process.env): string {
  return env.HARBOR_REPLICA || hostname();
}

export async function openStore(options: StoreOptions): Promise<HarborStore> {
  const env = options.env ?? process.env;
  const log = options.log ?? silentLogger;
  const replica = options.replica ?? replicaName(env);
  const url = databaseUrl(options.configUrl, env);
  const db = openDatabase(options.paths.database);
  let store: Omit<HarborStore, 'close' | 'db' | 'replica' | 'metricsLabel' | 'stateSecret'> & { end: () => Promise<void>; storedSecret: Buffer | null };
  let stateSecret: Buffer | null;
  try {
    stateSecret = secretFromEnv(env);
    store = url ? await openPostgresStore(url, replica, log) : openSqliteStore(db, options.paths, replica);
  } catch (error) {
    db.close();
    throw error;
  }
  const { end, storedSecret, signIn: openSignIn, ...parts } = store;
  let signIn: SignInStores | null = null;
  stateSecret ??= storedSecret;
  // Last-used times are bookkeeping: a full disk or an unreachable database must not take the host
  // down. What failed stays pending in the store (bounded) and this timer is its retry, revocations included.
  const flushTimer = setInterval(() => {
    try {
      parts.tokens.flush();
    } catch (error) {
      log.warn({ err: (error as Error).message, pending: parts.tokens.pending }, 'could not record token use and revocations yet; retrying');
    }
  }, options.tokenFlushMs ?? 5000);
  flushTimer.unref();
  // A shared database is worth a line at start (which one, as which replica); the home's file is the default.
  if (url) log.info({ store: parts.description, replica }, 'store opened');
  return {
    ...parts,
    db,
    replica,
    metricsLabel: url || env.HARBOR_REPLICA || options.replica ? replica : null,
    stateSecret,
    signIn: async (signInOptions) => (signIn ??= await openSignIn(signInOptions)),
    async close() {
      clearInterval(flushTimer);
      await signIn?.close();
      await parts.replicas?.close();
      try {
        await parts.tokens.close();
      } catch (error) {
        log.warn({ err: (error as Error).message, pending: parts.tokens.pending }, 'token use and revocations not written at close: the store refused them');
      }
      await end();
      db.close();
    },
  };
}

function openSqliteStore(db: SqliteDatabase, paths: HarborPaths, replica: string) {
  return {
    kind: 'sqlite' as const,
    description: `sqlite:${paths.database}`,
    tokens: new SqliteTokenStore(db),
    audit: new SqliteAuditStore(db, { replica }),
    // Its own file: a corrupt cache is rebuilt without touching tokens.
    cache: sqliteCacheStoreFactory({ file: paths.cache }),
    history: new MetricHistory(db),
    replicas: null,
    storedSecret: null,
    // Loaded when sign-in is on only, like the rest of server/oauth/.
    signIn: async (options?: SignInStoreOptions) => (await import('./oauth/sign-in-stores.ts')).sqliteSignInStores(db, options),
    end: async () => {},
  };
}

/**
 * HARBOR_STATE_SECRET, for operators who keep signing keys out of the database (or run replicas on
 * SQLite with their own routing): at least 32 characters, used as is.
 */
function secretFromEnv(env: NodeJS.ProcessEnv): Buffer | null {
  const value = env.HARBOR_STATE_SECRET;
  if (!value) return null;
  if (value.length < 32) throw new Error('HARBOR_STATE_SECRET must be at least 32 characters (e.g. openssl rand -base64 32)');
  return Buffer.from(value, 'utf8');
}

async function openPostgresStore(url: string, replica: string, log: Logger) {
  const pgm = await postgresModules();
  const description = pgm.describePostgres(url);
  const pool: PgPool = pgm.openPostgres(url);
  try {
    const tokens = await pgm.PgTokenStore.open({ pool, url, log });
    const audit = await pgm.PgAuditStore.open(pool, { replica });
    const history = new MetricHistory(await pgm.PgHistoryBackend.open(pool, { replica, log }));
    const replicas = await pgm.PgReplicaDirectory.open(pool, { replica, log });
    return {
      kind: 'postgres' as const,
      description,
      tokens,
      audit,
      cache: pgm.pgCacheStoreFactory(pool, description),
      history,
      replicas,
      // One key for every replica: a requestState minted by one verifies on all (continuation-forward.ts).
      storedSecret: await pgm.sharedSecret(pool, 'request-state'),
      signIn: async (options?: SignInStoreOptions) =>
        (await import('./store/postgres/pg-sign-in-stores.ts')).openPgSignInStores({ ...options, pool, url, log }),
      end: async () => {
        await history.close();
        await pool.end();
      },
    };
  } catch (error) {
    await pool.end().catch(() => {});
    throw new Error(`could not open the PostgreSQL store at ${description}: ${(error as Error).message}`, { cause: error });
  }
}

/** Just the tokens, for the CLI (`harbor token …` with no host answering, or with HARBOR_DATABASE_URL). */
export function openTokenStore(options: CliStoreOptions): Promise<{ tokens: TokenStore; close: () => Promise<void> }> {
  return openForCli<{ tokens: TokenStore }>(options, {
    sqlite: (db) => {
      const tokens = new SqliteTokenStore(db);
      return { part: { tokens }, close: () => tokens.close() };
    },
    postgres: async (pool, url) => {
      const { PgTokenStore } = await import('./store/postgres/pg-token-store.ts');
      const tokens = await PgTokenStore.open({ pool, url, ...(options.log ? { log: options.log } : {}) });
      return {
        part: { tokens },
        async close() {
          try {
            await tokens.drain();
          } finally {
            await tokens.close();
          }
        },
      };
    },
  });
}

/** Just the audit log, for the CLI (`harbor activity` with no host answering). */
export function openAuditStore(options: CliStoreOptions): Promise<{ audit: AuditStore; close: () => Promise<void> }> {
  return openForCli<{ audit: AuditStore }>(options, {
    sqlite: (db) => {
      const audit = new SqliteAuditStore(db);
      return { part: { audit }, close: () => audit.close() };
    },
    postgres: async (pool) => {
      const { PgAuditStore } = await import('./store/postgres/pg-audit-store.ts');
      const audit = await PgAuditStore.open(pool);
      return { part: { audit }, close: () => audit.close() };
    },
  });
}

/**
 * A teammate's sign-ins, for the CLI (`harbor token revoke` with no host answering, or with
 * HARBOR_DATABASE_URL): their access and refresh tokens revoked and (PostgreSQL) their sign-in requests
 * waiting for the owner dropped, as the host's admin does. On PostgreSQL the revocation's notice reaches
 * every replica, which ends the teammate's sessions; without a LISTEN of its own (the CLI hears nothing).
 * Opening migrates the sign-in tables, as the host would: creating them empty costs nothing.
 */
export async function openSignInRevoker(options: CliStoreOptions): Promise<{ revokeTeammate: (name: string) => Promise<number>; close: () => Promise<void> }> {
  // Loaded here only, like the rest of server/oauth/ (the host loads it when sign-in is on).
  const { SqliteGrantStore } = await import('./oauth/sqlite-grant-store.ts');
  return openForCli<{ revokeTeammate: (name: string) => Promise<number> }>(options, {
    // The home's waiting requests live in the host's memory: none to drop here.
    sqlite: (db) => ({ part: { revokeTeammate: (name) => new SqliteGrantStore(db).revokeTeammate(name) }, close: async () => {} }),
    postgres: async (pool) => {
      const [{ PgGrantStore }, { PgSignInRequests }] = await Promise.all([import('./store/postgres/pg-grant-store.ts'), import('./store/postgres/pg-sign-in-requests.ts')]);
      const grants = await PgGrantStore.open({ pool });
      const requests = await PgSignInRequests.open(pool);
      const revokeTeammate = async (name: string) => {
        await requests.dropTeammate(name);
        return grants.revokeTeammate(name);
      };
      return { part: { revokeTeammate }, close: async () => {} };
    },
  });
}

type CliStoreOptions = Pick<StoreOptions, 'paths' | 'configUrl' | 'env' | 'log'>;
type CliPart<T> = { part: T; close: () => Promise<void> };

/** One concern of the store for a short-lived CLI command: the home's file, or one PostgreSQL connection. */
async function openForCli<T>(
  options: CliStoreOptions,
  open: { sqlite: (db: SqliteDatabase) => CliPart<T>; postgres: (pool: PgPool, url: string) => Promise<CliPart<T>> },
): Promise<T & { close: () => Promise<void> }> {
  const url = databaseUrl(options.configUrl, options.env ?? process.env);
  if (!url) {
    const db = openDatabase(options.paths.database);
    let opened: CliPart<T>;
    try {
      opened = open.sqlite(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return thenClosing(opened, () => db.close());
  }
  const { describePostgres, openPostgres } = await import('./store/postgres-database.ts');
  const pool = openPostgres(url, { max: 1 });
  try {
    return thenClosing(await open.postgres(pool, url), () => pool.end());
  } catch (error) {
    await pool.end().catch(() => {});
    throw new Error(`could not open the PostgreSQL store at ${describePostgres(url)}: ${(error as Error).message}`, { cause: error });
  }
}

/** The opened part, whose close also closes what it was opened on (the file or the pool), even if its own close fails. */
function thenClosing<T>(opened: CliPart<T>, closeUnder: () => unknown): T & { close: () => Promise<void> } {
  return {
    ...opened.part,
    async close() {
      try {
        await opened.close();
      } finally {
        await closeUnder();
      }
    },
  };
}

/**
 * `tokens.json` (hashed, from `harbor export --with-tokens`) into whichever store the host will open:
 * the home's SQLite file, or the shared PostgreSQL. Returns how many teammates were added.
 */
export async function importTeammates(options: Pick<StoreOptions, 'paths' | 'configUrl' | 'env'>, tokens: HashedTokens): Promise<number> {
  const url = databaseUrl(options.configUrl, options.env ?? process.env);
  if (!url) {
    const db = openDatabase(options.paths.database);
    try {
      return importHashedTokens(db, tokens);
    } finally {
      db.close();
    }
  }
  const [{ openPostgres }, { importHashedTokensToPostgres }] = await Promise.all([import('./store/postgres-database.ts'), import('./store/postgres/pg-token-store.ts')]);
  const pool = openPostgres(url, { max: 1 });
  try {
    return await importHashedTokensToPostgres(pool, tokens);
  } finally {
    await pool.end();
  }
}
