import { silentLogger, type Logger } from '../../logger.ts';
import type { HistoryBackend, HistoryRow, HistorySample } from '../../metrics/history.ts';
import { migratePostgres, type PgPool } from '../postgres-database.ts';

const MIGRATIONS = [
  `CREATE TABLE metric_history (
     replica TEXT NOT NULL,
     metric TEXT NOT NULL,
     label TEXT NOT NULL,
     tier INTEGER NOT NULL,
     slot INTEGER NOT NULL,
     t BIGINT NOT NULL,
     sum DOUBLE PRECISION NOT NULL,
     n INTEGER NOT NULL,
     PRIMARY KEY (replica, metric, label, tier, slot)
   )`,
];

interface Bucket {
  metric: string;
  label: string;
  tier: number;
  slot: number;
  t: number;
  sum: number;
  n: number;
}

const key = (metric: string, label: string, tier: number, slot: number) => `${metric}\u0000${label}\u0000${tier}\u0000${slot}`;

/**
 * Metric history in PostgreSQL, one set of rings per replica (rows keyed by its name): each replica's
 * charts are its own process's numbers, kept across restarts and redeploys of that replica name.
 *
 * Trade-off: the admin API answers a chart synchronously, and this replica is the only writer of its
 * rows, so the rows live in memory (bounded like the table: maxSeries × slots per tier, about 1,800
 * rows a series with the default tiers) and every change is written behind in one upsert per record
 * (every sample interval). A write that fails is retried with the next one; what the last few seconds
 * held may be lost if the replica dies while PostgreSQL is unreachable, which a chart can afford.
 */
export class PgHistoryBackend implements HistoryBackend {
  readonly #pool: PgPool;
  readonly #replica: string;
  readonly #log: Logger;
  readonly #buckets = new Map<string, Bucket>();
  readonly #dirty = new Set<string>();
  /** tier → newest cut-off not yet deleted in PostgreSQL (a later cut-off covers an earlier one). */
  readonly #prunes = new Map<number, number>();
  #writing: Promise<void> = Promise.resolve();
  #queued = false;
  #failing = false;

  private constructor(pool: PgPool, replica: string, log: Logger) {
    this.#pool = pool;
    this.#replica = replica;
    this.#log = log;
  }

  static async open(pool: PgPool, options: { replica: string; log?: Logger }): Promise<PgHistoryBackend> {
    await migratePostgres(pool, 'metric-history', MIGRATIONS);
    const backend = new PgHistoryBackend(pool, options.replica, options.log ?? silentLogger);
    const { rows } = await pool.query<Bucket>('SELECT metric, label, tier, slot, t, sum, n FROM metric_history WHERE replica = $1', [options.replica]);
    for (const row of rows) backend.#buckets.set(key(row.metric, row.label, row.tier, row.slot), row);
    return backend;
  }

  add(samples: readonly HistorySample[]): void {
    for (const s of samples) {
      const k = key(s.metric, s.label, s.tier, s.slot);
      const bucket = this.#buckets.get(k);
      // Same bucket → accumulate; else this slot's bucket from a full span ago is replaced.
      if (bucket && bucket.t === s.t) {
        bucket.sum += s.value;
        bucket.n++;
      } else {
        this.#buckets.set(k, { metric: s.metric, label: s.label, tier: s.tier, slot: s.slot, t: s.t, sum: s.value, n: 1 });
      }
      this.#dirty.add(k);
    }
    this.#write();
  }

  select(metric: string, tier: number, from: number, upper: number, oldestValid: number): HistoryRow[] {
    const rows: HistoryRow[] = [];
    for (const b of this.#buckets.values()) {
      if (b.metric === metric && b.tier === tier && b.t >= from && b.t < upper && b.t > oldestValid) rows.push({ label: b.label, t: b.t, value: b.sum / b.n });
    }
    return rows.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : a.t - b.t));
  }

  prune(tier: number, t: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tier === tier && b.t <= t) {
        this.#buckets.delete(k);
        this.#dirty.delete(k);
      }
    }
    this.#prunes.set(tier, Math.max(t, this.#prunes.get(tier) ?? -Infinity));
    this.#write();
  }

  series(): Array<{ metric: string; label: string }> {
    const seen = new Map<string, { metric: string; label: string }>();
    for (const b of this.#buckets.values()) seen.set(`${b.metric}\u0000${b.label}`, { metric: b.metric, label: b.label });
    return [...seen.values()];
  }

  rowCount(): number {
    return this.#buckets.size;
  }

  async close(): Promise<void> {
    this.#write();
    await this.#writing;
  }

  /** One write at a time; calls meanwhile queue exactly one more, which carries everything dirty by then. */
  #write(): void {
    if (this.#queued) return;
    this.#queued = true;
    this.#writing = this.#writing.then(async () => {
      this.#queued = false;
      const keys = [...this.#dirty];
      const prunes = [...this.#prunes];
      this.#prunes.clear();
      const rows = keys.map((k) => this.#buckets.get(k)).filter((b): b is Bucket => b !== undefined);
      this.#dirty.clear();
      try {
        for (const [tier, t] of prunes) await this.#pool.query('DELETE FROM metric_history WHERE replica = $1 AND tier = $2 AND t <= $3', [this.#replica, tier, t]);
        if (rows.length > 0) {
          await this.#pool.query(
            `INSERT INTO metric_history (replica, metric, label, tier, slot, t, sum, n)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::bigint[], $7::float8[], $8::int[])
             ON CONFLICT (replica, metric, label, tier, slot) DO UPDATE SET t = excluded.t, sum = excluded.sum, n = excluded.n`,
            [this.#replica, rows.map((b) => b.metric), rows.map((b) => b.label), rows.map((b) => b.tier), rows.map((b) => b.slot), rows.map((b) => b.t), rows.map((b) => b.sum), rows.map((b) => b.n)],
          );
        }
        this.#failing = false;
      } catch (error) {
        // Written again with the next record: the rows are absolute values, so a late write is a correct one.
        for (const k of keys) if (this.#buckets.has(k)) this.#dirty.add(k);
        for (const [tier, t] of prunes) this.#prunes.set(tier, Math.max(t, this.#prunes.get(tier) ?? -Infinity));
        if (!this.#failing) this.#log.warn({ err: (error as Error).message }, 'could not write metric history to PostgreSQL; retrying with the next sample');
        this.#failing = true;
      }
    });
  }
}
