import { hostname } from 'node:os';
import { silentLogger, type Logger } from '../../logger.ts';
import { migratePostgres, type PgPool } from '../postgres-database.ts';

const MIGRATIONS = [
  `CREATE TABLE replica_directory (
     name TEXT PRIMARY KEY,
     url TEXT NOT NULL,
     seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
   )`,
];

/**
 * The address other replicas reach this one at when HARBOR_REPLICA_URL is not given: the bind
 * address, or the machine's host name when bound to every interface (in compose, the service's
 * hostname; in Kubernetes pass the pod IP instead, as the exported deployment does).
 */
export function defaultReplicaUrl(bindHost: string, port: number, host: string = hostname()): string {
  const name = bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '' ? host : bindHost;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

export interface ReplicaDirectoryOptions {
  /** This replica's name (HARBOR_REPLICA). */
  replica: string;
  /** How often the row is refreshed (default 5 s). */
  heartbeatMs?: number;
  /** A row not refreshed for this long names a replica that is gone (default 15 s: three missed beats). */
  expiryMs?: number;
  log?: Logger;
}

/**
 * Where each live replica can be reached by the others (its internal address, HARBOR_REPLICA_URL), in
 * one PostgreSQL table with a heartbeat: a 2026-07-28 continuation that lands on the wrong replica is
 * forwarded to the one named in its requestState (server/modern/continuation-forward.ts).
 *
 * Ages are compared on the database's clock (now()), so replicas with skewed clocks agree on who is
 * gone. A replica that stops cleanly deletes its row; one that dies stops beating and expires.
 */
export class PgReplicaDirectory {
  readonly #pool: PgPool;
  readonly #replica: string;
  readonly #heartbeatMs: number;
  readonly #expiryMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #url: string | undefined;
  #failing = false;

  private constructor(pool: PgPool, options: ReplicaDirectoryOptions) {
    this.#pool = pool;
    this.#replica = options.replica;
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#expiryMs = options.expiryMs ?? 15_000;
    this.#log = options.log ?? silentLogger;
  }

  static async open(pool: PgPool, options: ReplicaDirectoryOptions): Promise<PgReplicaDirectory> {
    await migratePostgres(pool, 'replica-directory', MIGRATIONS);
    return new PgReplicaDirectory(pool, options);
  }

  get replica(): string {
    return this.#replica;
  }

  /** Announces this replica at `url` and keeps the row fresh until close(); a failed first beat is retried by the next. */
  async register(url: string): Promise<void> {
    this.#url = url;
    await this.#beat().catch(() => {});
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.#beat().catch(() => {}), this.#heartbeatMs);
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    try {
      await this.#pool.query(
        `INSERT INTO replica_directory (name, url, seen_at) VALUES ($1, $2, now())
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, seen_at = now()`,
        [this.#replica, this.#url],
      );
      if (this.#failing) this.#log.info({ replica: this.#replica }, 'replica directory heartbeat written again');
      this.#failing = false;
    } catch (error) {
      // Logged once per outage: the next beat retries. Meanwhile other replicas may see this one as gone.
      if (!this.#failing) this.#log.warn({ err: (error as Error).message }, 'replica directory heartbeat failed; retrying');
      this.#failing = true;
      throw error;
    }
  }

  /** The address of a live replica by name, or null when it is unknown or has not beaten recently. */
  async urlOf(name: string): Promise<string | null> {
    const { rows } = await this.#pool.query<{ url: string }>(
      `SELECT url FROM replica_directory WHERE name = $1 AND seen_at > now() - make_interval(secs => $2::float8 / 1000)`,
      [name, this.#expiryMs],
    );
    return rows[0]?.url ?? null;
  }

  /** Stops beating and removes this replica's row (it serves no continuation any more). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#url === undefined) return;
    this.#url = undefined;
    await this.#pool.query('DELETE FROM replica_directory WHERE name = $1', [this.#replica]).catch(() => {});
  }
}
