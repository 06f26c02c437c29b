/**
 * The shape shared by the alert evaluator, the history and the registry: current value of each
 * metric per label (a process, a cache, a server…). `''` is the label of an unlabelled metric; null
 * means "no data" (too few samples to mean anything), which never fires an alert.
 */
export type MetricValues = Record<string, Record<string, number | null>>;

/** Returns the current values; called by the evaluator every few seconds, so it must be cheap. */
export type MetricSource = (now: number) => MetricValues;

/** Names of the six metrics of DESIGN.md section 7 as they appear in MetricValues. */
export const METRIC = {
  /** p95 latency in ms over the rolling window, label = endpoint or `server/tool`. */
  latencyP95: 'latency_p95_ms',
  /** (5xx + JSON-RPC errors) / requests over the rolling window, label = server. */
  errorRate: 'error_rate',
  /** RSS / memory limit, label = supervised process name. */
  memoryRatio: 'memory_ratio',
  /** hits / lookups over the rolling window, label = cache name. */
  cacheHitRatio: 'cache_hit_ratio',
  /** Open counts, labels = 'sockets' | 'sessions' | 'streams'. */
  openConnections: 'open_connections',
  /** Remaining / limit of an upstream API's rate limit, label = upstream name (never a key). */
  rateLimitRemaining: 'ratelimit_remaining_ratio',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
