import { migrate, type SqliteDatabase } from '../store/sqlite-database.ts';
import type { MetricValues } from './metric-values.ts';

/**
 * A day of metric history, so the UI's charts survive a host restart: in SQLite (the backend below)
 * or, for replicas, in PostgreSQL under the replica's name (server/store/postgres/pg-history-backend.ts).
 *
 * Each series (metric × label) keeps one ring per tier: by default the last hour at 10 s and the
 * last 24 h as 1-minute averages. A row's key is its slot in the ring (bucket number modulo the
 * ring's length), so writing a new bucket overwrites the one a full span ago and the table can't
 * grow past `maxSeries × (360 + 1440)` rows without any delete on the hot path. Samples landing in
 * the same bucket are averaged (sum and count are stored, so a restart mid-bucket keeps averaging).
 */
export interface HistoryTier {
  resolutionMs: number;
  spanMs: number;
}

export const DEFAULT_TIERS: readonly HistoryTier[] = [
  { resolutionMs: 10_000, spanMs: 60 * 60_000 },
  { resolutionMs: 60_000, spanMs: 24 * 60 * 60_000 },
];

export interface HistoryPoint {
  /** Start of the bucket, epoch ms. */
  t: number;
  /** Average of the samples in the bucket. */
  value: number;
}

export interface HistorySeries {
  metric: string;
  label: string;
  points: HistoryPoint[];
}

export interface MetricHistoryOptions {
  /** Finest first; each span must be a whole number of its resolution. */
  tiers?: readonly HistoryTier[];
  /** Series beyond this many are not recorded (labels come from config, but stay bounded anyway). */
  maxSeries?: number;
}

const MIGRATIONS = [
  `CREATE TABLE metric_history (
     metric TEXT NOT NULL,
     label TEXT NOT NULL,
     tier INTEGER NOT NULL,
     slot INTEGER NOT NULL,
     t INTEGER NOT NULL,
     sum REAL NOT NULL,
     n INTEGER NOT NULL,
     PRIMARY KEY (metric, label, tier, slot)
   ) WITHOUT ROWID;
   CREATE INDEX metric_history_by_time ON metric_history (metric, tier, t);`,
];

const PRUNE_EVERY_MS = 10 * 60_000;

/** One sample for one bucket: accumulated if the slot holds bucket `t` already, else it replaces it. */
export interface HistorySample {
  metric: string;
  label: string;
  tier: number;
  slot: number;
  t: number;
  value: number;
}

export interface HistoryRow {
  label: string;
  t: number;
  value: number;
}

/**
 * Where the rings live. Synchronous, because the admin API answers a chart from it at once: the
 * PostgreSQL backend keeps this replica's rows in memory (they are bounded, see above) and writes behind.
 */
export interface HistoryBackend {
  add(samples: readonly HistorySample[]): void;
  /** Averages of `metric` in `tier` with from <= t < upper and t > oldestValid, by label then time. */
  select(metric: string, tier: number, from: number, upper: number, oldestValid: number): HistoryRow[];
  /** Drops the tier's buckets at or before `t`. */
  prune(tier: number, t: number): void;
  series(): Array<{ metric: string; label: string }>;
  rowCount(): number;
  close(): Promise<void>;
}

class SqliteHistoryBackend implements HistoryBackend {
  readonly #db: SqliteDatabase;
  readonly #upsert;
  readonly #select;
  readonly #prune;
  readonly #add;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    migrate(db, 'metric-history', MIGRATIONS);
    // In the UPDATE, unqualified columns are the stored row: same bucket → accumulate, else replace
    // the bucket that held this slot a full span ago.
    this.#upsert = db.prepare(
      `INSERT INTO metric_history (metric, label, tier, slot, t, sum, n) VALUES (?, ?, ?, ?, ?, ?, 1)
       ON CONFLICT (metric, label, tier, slot) DO UPDATE SET
         sum = CASE WHEN t = excluded.t THEN sum + excluded.sum ELSE excluded.sum END,
         n = CASE WHEN t = excluded.t THEN n + 1 ELSE 1 END,
         t = excluded.t`,
    );
    this.#select = db.prepare(
      `SELECT label, t, sum / n AS value FROM metric_history
       WHERE metric = ? AND tier = ? AND t >= ? AND t < ? AND t > ? ORDER BY label, t`,
    );
    this.#prune = db.prepare('DELETE FROM metric_history WHERE tier = ? AND t <= ?');
    this.#add = db.transaction((samples: readonly HistorySample[]) => {
      for (const s of samples) this.#upsert.run(s.metric, s.label, s.tier, s.slot, s.t, s.value);
    });
  }

  add(samples: readonly HistorySample[]): void {
    this.#add(samples);
  }

  select(metric: string, tier: number, from: number, upper: number, oldestValid: number): HistoryRow[] {
    return this.#select.all(metric, tier, from, upper, oldestValid) as HistoryRow[];
  }

  prune(tier: number, t: number): void {
    this.#prune.run(tier, t);
  }

  series(): Array<{ metric: string; label: string }> {
    return this.#db.prepare('SELECT DISTINCT metric, label FROM metric_history').all() as Array<{ metric: string; label: string }>;
  }

  rowCount(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM metric_history').get() as { n: number }).n;
  }

  /** The database belongs to whoever opened it. */
  async close(): Promise<void> {}
}

function isBackend(target: SqliteDatabase | HistoryBackend): target is HistoryBackend {
  return typeof (target as Partial<HistoryBackend>).select === 'function' && typeof (target as Partial<HistoryBackend>).add === 'function';
}

export class MetricHistory {
  readonly #backend: HistoryBackend;
  readonly #tiers: readonly HistoryTier[];
  readonly #maxSeries: number;
  readonly #series = new Set<string>();
  #lastPrune = -Infinity;

  /** A SQLite database (the home's file) or another backend (PostgreSQL). */
  constructor(target: SqliteDatabase | HistoryBackend, options: MetricHistoryOptions = {}) {
    this.#tiers = options.tiers ?? DEFAULT_TIERS;
    this.#maxSeries = options.maxSeries ?? 500;
    for (const tier of this.#tiers) {
      if (!(tier.resolutionMs > 0) || tier.spanMs % tier.resolutionMs !== 0) {
        throw new RangeError('history tier span must be a whole number of its resolution');
      }
    }
    this.#backend = isBackend(target) ? target : new SqliteHistoryBackend(target);
    this.#loadSeries();
  }

  /** Records one sample of every metric (the shape HarborMetrics.values() returns); nulls are gaps. */
  record(sample: MetricValues, now: number = Date.now()): void {
    if (now - this.#lastPrune >= PRUNE_EVERY_MS) this.#pruneOld(now);
    const samples: HistorySample[] = [];
    for (const [metric, byLabel] of Object.entries(sample)) {
      for (const [label, value] of Object.entries(byLabel)) {
        if (value === null || !Number.isFinite(value) || !this.#admit(metric, label)) continue;
        this.#tiers.forEach((tier, index) => {
          const bucket = Math.floor(now / tier.resolutionMs);
          const slot = bucket % (tier.spanMs / tier.resolutionMs);
          samples.push({ metric, label, tier: index, slot, t: bucket * tier.resolutionMs, value });
        });
      }
    }
    if (samples.length > 0) this.#backend.add(samples);
  }

  /**
   * Points of `metric` since `sinceMs`, per label, oldest first: the finest tier that still covers
   * a stretch of time answers for it, so the last hour comes at 10 s and the rest as 1-min averages.
   */
  query(metric: string, sinceMs: number, options: { label?: string; now?: number } = {}): HistorySeries[] {
    const now = options.now ?? Date.now();
    const byLabel = new Map<string, HistoryPoint[]>();
    let upper = Infinity;
    for (let index = 0; index < this.#tiers.length && upper > sinceMs; index++) {
      const tier = this.#tiers[index]!;
      const coarser = this.#tiers[index + 1];
      const oldestValid = now - tier.spanMs;
      // Hand over to the coarser tier on one of its bucket edges so no minute is counted twice.
      const lower = coarser ? Math.ceil(oldestValid / coarser.resolutionMs) * coarser.resolutionMs : oldestValid;
      const from = Math.max(Math.floor(sinceMs / tier.resolutionMs) * tier.resolutionMs, lower);
      const rows = this.#backend.select(metric, index, from, upper, oldestValid);
      for (const row of rows) {
        if (options.label !== undefined && row.label !== options.label) continue;
        let points = byLabel.get(row.label);
        if (points === undefined) byLabel.set(row.label, (points = []));
        points.push({ t: row.t, value: row.value });
      }
      upper = Math.min(upper, lower);
    }
    return [...byLabel.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([label, points]) => ({ metric, label, points: points.sort((a, b) => a.t - b.t) }));
  }

  /** Stored rows, for tests and the diagnostics page. */
  rowCount(): number {
    return this.#backend.rowCount();
  }

  /** Lets the backend write what it holds back (PostgreSQL); the SQLite file stays with its owner. */
  close(): Promise<void> {
    return this.#backend.close();
  }

  #admit(metric: string, label: string): boolean {
    const key = `${metric}\u0000${label}`;
    if (this.#series.has(key)) return true;
    if (this.#series.size >= this.#maxSeries) return false;
    this.#series.add(key);
    return true;
  }

  /** Drops buckets older than their tier's span, so series nobody reports any more disappear. */
  #pruneOld(now: number): void {
    this.#tiers.forEach((tier, index) => this.#backend.prune(index, now - tier.spanMs));
    this.#lastPrune = now;
    this.#loadSeries();
  }

  #loadSeries(): void {
    this.#series.clear();
    for (const row of this.#backend.series()) this.#series.add(`${row.metric}\u0000${row.label}`);
  }
}
