import { z } from 'zod';
import { METRIC } from './metric-values.ts';

/**
 * Alert rules as data: the defaults of DESIGN.md section 7, overridable per rule from config.
 *
 * Comparators:
 * - `>` / `<`: the value crosses `threshold`; the rule fires once that has held for `forMs`.
 * - `rising`: the value has not decreased between any two consecutive samples for at least `forMs`,
 *   has grown by more than `threshold` over the last `forMs` (the net increase), AND rose in each
 *   third of that window: growth that keeps going, not one step (a dashboard opening a connection at
 *   start is not a leak). A flat third therefore stops it firing, and any single decrease restarts
 *   the count. See alert-evaluator.ts for the exact bookkeeping.
 *
 * Minimum history: an alert may only be pending or firing once its own data says so. Every rule has
 * `minHistoryMs`, the continuous data an instance needs before it may leave ok. Threshold rules need
 * none beyond what their metric already withholds (registry.ts reports "no data" until a window holds
 * enough latency samples, requests or cache lookups; one RSS reading is a measurement), and `forMs`
 * then asks the condition to hold. A rising rule judges a trend, which a few samples cannot show.
 */
export type AlertComparator = '>' | '<' | 'rising';

/** `warning` turns health amber; `note` is advice shown in the UI and never changes the colour. */
export type AlertSeverity = 'warning' | 'note';

/** How values and thresholds are written in messages. */
export type AlertUnit = 'ms' | 'ratio' | 'count';

export interface AlertRule {
  id: string;
  metric: string;
  comparator: AlertComparator;
  threshold: number;
  forMs: number;
  /** Continuous data an instance needs before it may be pending or firing (see above). */
  minHistoryMs: number;
  /** Template; `{label}`, `{value}`, `{threshold}` and `{for}` are filled in. */
  message: string;
  severity: AlertSeverity;
  unit: AlertUnit;
}

const MINUTE = 60_000;

export const DEFAULT_ALERT_RULES: readonly AlertRule[] = Object.freeze([
  {
    id: 'latency-p95-high',
    metric: METRIC.latencyP95,
    comparator: '>',
    threshold: 2_000,
    // The 5-minute window already smooths; one more minute keeps a single burst from paging.
    forMs: 1 * MINUTE,
    minHistoryMs: 0,
    message: '{label}: p95 latency {value} (limit {threshold})',
    severity: 'warning',
    unit: 'ms',
  },
  {
    id: 'error-rate-high',
    metric: METRIC.errorRate,
    comparator: '>',
    threshold: 0.05,
    forMs: 5 * MINUTE,
    minHistoryMs: 0,
    message: '{label}: {value} of requests failing for {for} (limit {threshold})',
    severity: 'warning',
    unit: 'ratio',
  },
  {
    id: 'memory-high',
    metric: METRIC.memoryRatio,
    comparator: '>',
    threshold: 0.8,
    forMs: 10 * MINUTE,
    minHistoryMs: 0,
    message: '{label}: memory at {value} of its limit for {for}',
    severity: 'warning',
    unit: 'ratio',
  },
  {
    id: 'cache-hit-low',
    metric: METRIC.cacheHitRatio,
    comparator: '<',
    threshold: 0.7,
    // A cold cache starts at 0 %; give it time to warm before calling it too small.
    forMs: 10 * MINUTE,
    minHistoryMs: 0,
    message: '{label} cache: hit ratio {value} (below {threshold}), the cache may be too small',
    severity: 'warning',
    unit: 'ratio',
  },
  {
    id: 'cache-hit-high',
    metric: METRIC.cacheHitRatio,
    comparator: '>',
    threshold: 0.9,
    forMs: 30 * MINUTE,
    minHistoryMs: 0,
    message: '{label} cache: hit ratio {value} (above {threshold}), it could be made smaller',
    severity: 'note',
    unit: 'ratio',
  },
  {
    id: 'connections-leak',
    metric: METRIC.openConnections,
    comparator: 'rising',
    // Net growth that must be exceeded over forMs; 0 means "any growth at all".
    threshold: 0,
    forMs: 30 * MINUTE,
    // A third of the window: pending only once ten minutes show growth in each of their thirds;
    // never in the first minutes after start, when every count climbs from zero.
    minHistoryMs: 10 * MINUTE,
    message: 'open {label} never went down in {for} (now {value}): likely a leak',
    severity: 'warning',
    unit: 'count',
  },
  {
    id: 'ratelimit-low',
    metric: METRIC.rateLimitRemaining,
    comparator: '<',
    threshold: 0.1,
    forMs: 0,
    // An upstream's own header: a fact from its first reading.
    minHistoryMs: 0,
    message: '{label}: only {value} of the upstream rate limit left',
    severity: 'warning',
    unit: 'ratio',
  },
]);

export const alertOverridesSchema = z.record(
  z.string(),
  z
    .object({
      threshold: z.number().finite().optional(),
      forMs: z.number().int().min(0).optional(),
      minHistoryMs: z.number().int().min(0).optional(),
      enabled: z.boolean().optional(),
    })
    .strict(),
);

/** Per rule id: a different threshold, duration or minimum history, or `enabled: false` to drop the rule. */
export type AlertOverrides = z.infer<typeof alertOverridesSchema>;

/** The default rules with overrides applied; an override naming an unknown rule is an error. */
export function alertRules(overrides: AlertOverrides = {}, base: readonly AlertRule[] = DEFAULT_ALERT_RULES): AlertRule[] {
  const known = new Set(base.map((rule) => rule.id));
  for (const id of Object.keys(overrides)) {
    if (!known.has(id)) throw new Error(`unknown alert rule "${id}" (known: ${[...known].join(', ')})`);
  }
  const rules: AlertRule[] = [];
  for (const rule of base) {
    const override = overrides[rule.id];
    if (override?.enabled === false) continue;
    rules.push({
      ...rule,
      threshold: override?.threshold ?? rule.threshold,
      forMs: override?.forMs ?? rule.forMs,
      minHistoryMs: override?.minHistoryMs ?? rule.minHistoryMs,
    });
  }
  return rules;
}

/** Writes a value the way the rule's unit reads: "2.4 s", "12 %", "42". */
export function formatValue(value: number | null, unit: AlertUnit): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  if (unit === 'ratio') return `${Math.round(value * 100)} %`;
  if (unit === 'ms') return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
  return String(Math.round(value * 100) / 100);
}

export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= MINUTE) return `${Math.round(ms / MINUTE)} min`;
  return `${Math.round(ms / 1000)} s`;
}

export function renderAlertMessage(rule: AlertRule, label: string, value: number | null): string {
  return rule.message
    .replaceAll('{label}', label === '' ? rule.metric : label)
    .replaceAll('{value}', formatValue(value, rule.unit))
    .replaceAll('{threshold}', formatValue(rule.threshold, rule.unit))
    .replaceAll('{for}', formatDuration(rule.forMs));
}
