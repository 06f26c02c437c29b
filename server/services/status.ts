import type { HistorySeries, HostStatus, MetricsResponse, ShareState } from '../admin/host-api.ts';
import type { BoundedCacheStats } from '../cache/bounded-cache.ts';
import type { HostedServerStatus } from '../gateway/hosted-server.ts';
import { formatDuration, formatValue, type AlertRule } from '../metrics/alert-rules.ts';
import type { Health } from '../metrics/health.ts';
import type { HostObservability } from '../metrics/host-observability.ts';
import type { EmbeddingsClientStats } from '../upstream-api/embeddings-client.ts';
import { HARBOR_VERSION } from '../version.ts';

/**
 * Status: the host's state assembled in one place (GET /admin/status, which the app, the dashboard
 * and `harbor status` read), and the metrics with the alert rules the host evaluates, so that
 * whoever prints a threshold prints the one config.json set (`alerts` overrides), not a copy.
 */
export interface StatusSources {
  url: () => string;
  share: () => ShareState;
  /**
   * The address teammates use: HARBOR_PUBLIC_URL in a container, else the tunnel's (null: not shared).
   * Absent: the tunnel's. The share part keeps the tunnel's own, which is what it describes.
   */
  publicUrl?: () => string | null;
  servers: () => Iterable<{ status(): HostedServerStatus }>;
  sessions: () => { size: number; viaTunnel: number };
  docs: () => { folder: string; count: number; indexing: boolean } | null;
  caches: () => Array<{ stats(): BoundedCacheStats } | null>;
  cacheLimits: { memoryMb: number; diskMb: number };
  embeddings: () => { stats(): EmbeddingsClientStats } | null;
  /** Late-bound: the host builds its observability after the HTTP server. */
  observability: () => Pick<HostObservability, 'health' | 'alertStatus' | 'metrics' | 'history'>;
  /** The rules in effect: the defaults with config.json's `alerts` applied (alertRules()). */
  alertRules: readonly AlertRule[];
  /** This process, injectable for tests. */
  process?: { pid: number; uptimeSeconds: () => number; rssBytes: () => number };
}

/** A rule as the metrics answer lists it: what is compared, against what, for how long. */
export type AlertThreshold = Pick<AlertRule, 'id' | 'metric' | 'comparator' | 'threshold' | 'forMs' | 'unit' | 'severity'>;

/** GET /admin/metrics: the contract's answer, with the health and the rules in effect. */
export type HostMetrics = MetricsResponse & { health: Health; alertRules: AlertThreshold[] };

/** GET /admin/status as this host answers it: the contract's optional parts all there. */
export type AssembledStatus = HostStatus & Required<Pick<HostStatus, 'health' | 'share' | 'caches' | 'cacheLimits' | 'embeddings'>>;

export interface StatusService {
  status(): AssembledStatus;
  metrics(): HostMetrics;
  history(metric: string, since: number): HistorySeries[];
}

const THIS_PROCESS = {
  pid: process.pid,
  uptimeSeconds: () => Math.round(process.uptime()),
  rssBytes: () => process.memoryUsage().rss,
};

export function statusService(sources: StatusSources): StatusService {
  const self = sources.process ?? THIS_PROCESS;
  const thresholds = sources.alertRules.map(({ id, metric, comparator, threshold, forMs, unit, severity }) => ({ id, metric, comparator, threshold, forMs, unit, severity }));
  return {
    status() {
      const share = sources.share();
      const docs = sources.docs();
      const sessions = sources.sessions();
      return {
        version: HARBOR_VERSION,
        host: { pid: self.pid, uptimeSeconds: self.uptimeSeconds(), rssBytes: self.rssBytes(), url: sources.url(), publicUrl: sources.publicUrl ? sources.publicUrl() : share.publicUrl },
        docs: docs ? { folder: docs.folder, documents: docs.count, indexing: docs.indexing } : null,
        caches: sources.caches().filter((c) => c !== null).map((c) => c.stats()),
        cacheLimits: { memoryMb: sources.cacheLimits.memoryMb, diskMb: sources.cacheLimits.diskMb },
        embeddings: sources.embeddings()?.stats() ?? null,
        health: sources.observability().health(),
        share: { ...share, connections: sessions.viaTunnel },
        sessions: sessions.size,
        servers: [...sources.servers()].map((s) => s.status()),
      };
    },
    metrics() {
      const observability = sources.observability();
      return { ...observability.metrics.json(), alerts: observability.alertStatus(), health: observability.health(), alertRules: thresholds };
    },
    history: (metric, since) => sources.observability().history.query(metric, since),
  };
}

/**
 * A rule's condition in a few words, as `harbor status` prints it: "> 2 s for 1 min", "< 10 %",
 * "rising for 30 min"; "off" for a rule config.json turned off (absent from the rules in effect).
 */
export function describeThreshold(rules: readonly AlertThreshold[], id: string): string {
  const rule = rules.find((r) => r.id === id);
  if (!rule) return 'off';
  // formatValue writes "2.0 s" for messages with a measured value; a round threshold reads "2 s".
  const value = formatValue(rule.threshold, rule.unit).replace(/\.0 s$/, ' s');
  const condition = rule.comparator === 'rising' ? (rule.threshold > 0 ? `rising by > ${value}` : 'rising') : `${rule.comparator} ${value}`;
  return rule.forMs > 0 ? `${condition} for ${formatDuration(rule.forMs)}` : condition;
}
