import { timingSafeEqual } from 'node:crypto';
import {
  alreadyHasToken,
  checkTeammateName,
  generateToken,
  hashToken,
  looksLikeToken,
  toTeammate,
  type IssueOptions,
  type NewToken,
  type Teammate,
  type TeammateRow,
  type TokenStore,
} from '../../auth/token-store.ts';
import type { HashedTokens } from '../../auth/token-transfer.ts';
import { UsageBacklog } from '../../auth/usage-backlog.ts';
import { silentLogger, type Logger } from '../../logger.ts';
import { listenPostgres, type PgListener } from '../pg-listener.ts';
import { inTransaction, migratePostgres, type PgPool } from '../postgres-database.ts';

const MIGRATIONS = [
  `CREATE TABLE teammates (
     name TEXT PRIMARY KEY,
     token_hash BYTEA NOT NULL UNIQUE,
     created_at BIGINT NOT NULL,
     last_used_at BIGINT,
     calls BIGINT NOT NULL DEFAULT 0,
     revoked_at BIGINT,
     expires_at BIGINT,
     scope TEXT
   )`,
];

/** Every write that changes who may call sends one NOTIFY here; each replica reloads its view. */
export const TOKENS_CHANNEL = 'harbor_tokens';

/**
 * The PostgreSQL twin of token-transfer.ts's importHashedTokens (`tokens.json` of `harbor export
 * --with-tokens`): adds the teammates the table does not know, by name or hash, so every replica
 * importing the same file at start adds them once and a token revoked since is never brought back.
 */
export async function importHashedTokensToPostgres(pool: PgPool, tokens: HashedTokens): Promise<number> {
  await migratePostgres(pool, 'tokens', MIGRATIONS);
  if (tokens.teammates.length === 0) return 0;
  return inTransaction(pool, async (client) => {
    const { rowCount } = await client.query(
      `INSERT INTO teammates (name, token_hash, created_at, expires_at, scope)
       SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bigint[], $5::text[]) ON CONFLICT DO NOTHING`,
      [
        tokens.teammates.map((t) => t.name),
        tokens.teammates.map((t) => Buffer.from(t.sha256, 'hex')),
        tokens.teammates.map((t) => t.createdAt),
        tokens.teammates.map((t) => t.expiresAt),
        tokens.teammates.map((t) => (t.scope ? JSON.stringify(t.scope) : null)),
      ],
    );
    if (rowCount) await client.query('SELECT pg_notify($1, $2)', [TOKENS_CHANNEL, 'imported']);
    return rowCount ?? 0;
  });
}

export interface PgTokenStoreOptions {
  pool: PgPool;
  /** For the LISTEN connection (a pooled one would be handed to other queries). */
  url: string;
  log?: Logger;
}

/**
 * Tokens in PostgreSQL, shared by every replica (and the CLI with HARBOR_DATABASE_URL).
 *
 * Trade-off: `verify` runs on every request and the TokenStore interface is synchronous, so this store
 * keeps the whole teammates table in memory (a team's worth of rows) and never awaits the network on
 * the request path. The view is reloaded whenever a NOTIFY on `harbor_tokens` arrives (every issue and
 * revocation sends one, from any replica or the CLI), and after the LISTEN connection comes back. The
 * cost: another replica's change is seen after its commit plus one notification and one SELECT
 * (milliseconds on a LAN, measured in test/integration/replicas.test.ts), and while PostgreSQL is
 * unreachable a replica keeps answering from its last view. Issues and revocations made here apply to
 * this replica at once and are written behind; a revocation that cannot be written yet stays in the
 * deny list and keeps being refused (as the SQLite store does on a full disk). Two replicas issuing a
 * token for the same name within the same instant: the first commit wins, the other token is void
 * (logged) and its replica's view drops it.
 */
export class PgTokenStore implements TokenStore {
  readonly #pool: PgPool;
  readonly #log: Logger;
  /** name → row: the table as last loaded, with this replica's unwritten changes laid over it. */
  #rows = new Map<string, TeammateRow>();
  /** base64(hash) → name. */
  #byHash = new Map<string, string>();
  /** Issued here, not yet written: kept over any reload until the write commits. */
  readonly #unwrittenIssues = new Map<string, TeammateRow>();
  /** Revoked here, not yet written (name → revoked at): refused by verify() until written. */
  readonly #denied = new Map<string, number>();
  readonly #usage = new UsageBacklog();
  readonly #revokedElsewhere = new Set<string>();
  readonly #listeners = new Set<() => void>();
  #listener: PgListener | null = null;
  #writing: Promise<void> = Promise.resolve();
  #writeQueued = false;
  #lastWriteError: Error | null = null;
  #reloading: Promise<void> | null = null;
  #reloadAgain = false;
  #closed = false;

  private constructor(options: PgTokenStoreOptions) {
    this.#pool = options.pool;
    this.#log = options.log ?? silentLogger;
  }

  /** Migrates, loads the table and starts listening; resolves once the view is loaded. */
  static async open(options: PgTokenStoreOptions): Promise<PgTokenStore> {
    const store = new PgTokenStore(options);
    await migratePostgres(options.pool, 'tokens', MIGRATIONS);
    await store.#reload();
    store.#listener = listenPostgres({
      url: options.url,
      channel: TOKENS_CHANNEL,
      log: store.#log,
      onNotify: () => store.#scheduleReload(),
      // Notifications sent while disconnected are lost: reload after every (re)connection.
      onConnected: () => store.#scheduleReload(),
    });
    await store.#listener.ready;
    return store;
  }

  issue(name: string, options: IssueOptions = {}): NewToken {
    const trimmed = checkTeammateName(name);
    const existing = this.#rows.get(trimmed);
    if (existing && existing.revoked_at === null && !this.#denied.has(trimmed)) throw alreadyHasToken(trimmed);
    const token = generateToken();
    const row: TeammateRow = {
      name: trimmed,
      token_hash: hashToken(token),
      created_at: Date.now(),
      last_used_at: null,
      calls: 0,
      revoked_at: null,
      expires_at: options.expiresAt ?? null,
      scope: options.scope ? JSON.stringify(options.scope) : null,
    };
    this.#unwrittenIssues.set(trimmed, row);
    this.#put(row);
    this.#revokedElsewhere.delete(trimmed);
    this.#write();
    return { token, teammate: toTeammate(row) };
  }

  verify(token: string, now = Date.now()): Teammate | null {
    if (!looksLikeToken(token)) return null;
    const hash = hashToken(token);
    // Found by hash (an attacker cannot steer a hash's prefix); the final comparison is constant-time.
    const name = this.#byHash.get(hash.toString('base64'));
    const row = name === undefined ? undefined : this.#rows.get(name);
    if (!row || !timingSafeEqual(row.token_hash, hash)) return null;
    if (row.revoked_at !== null || this.#denied.has(row.name)) return null;
    if (row.expires_at !== null && row.expires_at <= now) return null;
    return toTeammate(row);
  }

  list(): Teammate[] {
    return [...this.#rows.values()]
      .sort((a, b) => a.created_at - b.created_at)
      .map((row) => this.#usage.addPendingTo(toTeammate(row)));
  }

  revoke(name: string): boolean {
    const row = this.#rows.get(name);
    if (!row || row.revoked_at !== null || this.#denied.has(name)) return false;
    const at = Date.now();
    const unwritten = this.#unwrittenIssues.get(name);
    // Issued and revoked before the issue was written: one write of the revoked row says both.
    if (unwritten) unwritten.revoked_at = at;
    else this.#denied.set(name, at);
    row.revoked_at = at;
    this.#write();
    return true;
  }

  touch(name: string, now = Date.now()): void {
    this.#usage.add(name, now);
  }

  /** Starts a write of what is pending; throws the last write's error while writes keep failing. */
  flush(): void {
    this.#write();
    if (this.#lastWriteError) throw this.#lastWriteError;
  }

  async drain(): Promise<void> {
    this.#write();
    await this.#writing;
    if (this.#hasPending() && this.#lastWriteError) throw this.#lastWriteError;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.drain();
    } catch (error) {
      this.#log.warn({ err: (error as Error).message, pending: this.pending }, 'token changes not written to PostgreSQL at close');
    }
    this.#closed = true;
    await this.#listener?.close();
    await this.#reloading;
  }

  revokedElsewhere(): string[] {
    const names = [...this.#revokedElsewhere];
    this.#revokedElsewhere.clear();
    return names;
  }

  onChangeElsewhere(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get pending(): { revocations: number; usage: number; usageDropped: number } {
    return { revocations: this.#denied.size, usage: this.#usage.calls, usageDropped: this.#usage.dropped };
  }

  #hasPending(): boolean {
    return this.#unwrittenIssues.size > 0 || this.#denied.size > 0 || this.#usage.size > 0;
  }

  #put(row: TeammateRow): void {
    const previous = this.#rows.get(row.name);
    if (previous) this.#byHash.delete(previous.token_hash.toString('base64'));
    this.#rows.set(row.name, row);
    this.#byHash.set(row.token_hash.toString('base64'), row.name);
  }

  /** One write at a time, in order; a call while one runs queues exactly one more. */
  #write(): void {
    if (this.#closed || this.#writeQueued || !this.#hasPending()) return;
    this.#writeQueued = true;
    this.#writing = this.#writing.then(async () => {
      this.#writeQueued = false;
      if (!this.#hasPending()) return;
      try {
        await this.#writeOnce();
        if (this.#lastWriteError) this.#log.info('token changes written to PostgreSQL again');
        this.#lastWriteError = null;
      } catch (error) {
        if (!this.#lastWriteError) this.#log.warn({ err: (error as Error).message, pending: this.pending }, 'could not write token changes to PostgreSQL; kept in memory and retried');
        this.#lastWriteError = error as Error;
      }
    });
  }

  async #writeOnce(): Promise<void> {
    const revocations = [...this.#denied];
    const issues = [...this.#unwrittenIssues.values()].map((row) => ({ ...row }));
    const usage = this.#usage.snapshot();
    const lost: string[] = [];
    await inTransaction(this.#pool, async (client) => {
      // Revocations first: a name revoked and issued again here must end with the new token active.
      for (const [name, at] of revocations) {
        await client.query('UPDATE teammates SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL', [at, name]);
      }
      for (const row of issues) {
        const { rowCount } = await client.query(
          `INSERT INTO teammates (name, token_hash, created_at, expires_at, scope, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at,
             last_used_at = NULL, calls = 0, revoked_at = excluded.revoked_at, expires_at = excluded.expires_at, scope = excluded.scope
           WHERE teammates.revoked_at IS NOT NULL`,
          [row.name, row.token_hash, row.created_at, row.expires_at, row.scope, row.revoked_at],
        );
        if (rowCount === 0) lost.push(row.name);
      }
      if (usage.length > 0) {
        await client.query(
          `UPDATE teammates t SET last_used_at = GREATEST(COALESCE(t.last_used_at, 0), u.at), calls = t.calls + u.calls
           FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(name, at, calls) WHERE t.name = u.name`,
          [usage.map(([name]) => name), usage.map(([, use]) => use.at), usage.map(([, use]) => use.calls)],
        );
      }
      // Delivered on commit, to every listener (this replica too, which then reloads harmlessly).
      if (revocations.length + issues.length > 0) await client.query('SELECT pg_notify($1, $2)', [TOKENS_CHANNEL, 'changed']);
    });
    for (const [name, at] of revocations) if (this.#denied.get(name) === at) this.#denied.delete(name);
    for (const row of issues) {
      if (this.#unwrittenIssues.get(row.name)?.token_hash.equals(row.token_hash)) this.#unwrittenIssues.delete(row.name);
    }
    this.#usage.written(usage);
    for (const name of lost) this.#log.error({ teammate: name }, 'token issued for a teammate who got one on another replica at the same time; this one is void');
    if (lost.length > 0) this.#scheduleReload();
  }

  /** Coalesced: at most one reload runs, and one more follows if notifications came meanwhile. */
  #scheduleReload(): void {
    if (this.#closed) return;
    if (this.#reloading) {
      this.#reloadAgain = true;
      return;
    }
    this.#reloading = (async () => {
      do {
        this.#reloadAgain = false;
        try {
          await this.#reload();
        } catch (error) {
          this.#log.warn({ err: (error as Error).message }, 'could not reload teammates from PostgreSQL; answering from the last view');
        }
      } while (this.#reloadAgain && !this.#closed);
      this.#reloading = null;
    })();
  }

  async #reload(): Promise<void> {
    const { rows } = await this.#pool.query<TeammateRow>('SELECT * FROM teammates');
    const before = this.#rows;
    const next = new Map<string, TeammateRow>();
    for (const row of rows) {
      const denied = this.#denied.get(row.name);
      if (denied !== undefined && row.revoked_at === null) row.revoked_at = denied;
      next.set(row.name, row);
    }
    for (const row of this.#unwrittenIssues.values()) next.set(row.name, row);
    let changed = false;
    for (const [name, row] of next) {
      const old = before.get(name);
      // Active here before, revoked (or revoked and issued again) now, and not by this replica: another
      // replica or the CLI did it, and the old token's sessions must end.
      const ended = row.revoked_at !== null || !row.token_hash.equals(old?.token_hash ?? row.token_hash);
      if (old && old.revoked_at === null && ended && !this.#denied.has(name)) {
        this.#revokedElsewhere.add(name);
        changed = true;
      }
    }
    this.#rows = next;
    this.#byHash = new Map([...next.values()].map((row) => [row.token_hash.toString('base64'), row.name]));
    if (changed) for (const listener of this.#listeners) listener();
  }
}
