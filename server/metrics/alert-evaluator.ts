import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../logger.ts';
import { renderAlertMessage, type AlertRule, type AlertSeverity } from './alert-rules.ts';
import type { MetricSource } from './metric-values.ts';

/**
 * Evaluates alert rules against a MetricSource on an injected clock, one state machine per
 * rule × label:
 *
 *   ok ──cond──▶ pending ──cond held forMs──▶ firing ──cond gone──▶ resolved ──cond──▶ pending …
 *    ▲             │ cond gone                                       (forMs = 0: ok/resolved ──▶ firing)
 *    └─────────────┘
 *
 * Every transition is emitted as a 'change' event. A label that disappears from the source counts
 * as "no data": a pending alert goes back to ok, a firing one resolves, and the instance is
 * forgotten. If evaluations stop for longer than `maxGapMs` (laptop asleep), pending timers and
 * rising runs restart, so waking up never fires an alert on the strength of a single sample.
 *
 * Minimum history (rule.minHistoryMs): an instance leaves ok only once it has that much continuous
 * data; for a rising rule the data is its current run (a trend of a few seconds is no trend). The
 * bookkeeping goes on meanwhile, so a condition that really held from the start counts from there.
 *
 * 'rising' bookkeeping: per instance, the change points (t, v) of the current run of samples in
 * which no value is lower than the one before; a decrease or a null starts a new run at that sample.
 * With v(T) = value of the last sample at or before T, and "spread over [a, now]" = the value rose
 * in each third of that span:
 *   firing condition  = run started at or before now − forMs  AND  v(now) − v(now − forMs) > threshold
 *                       AND spread over [now − forMs, now]
 *   pending condition = v(now) − v(from) > threshold AND spread over [from, now], from = max(runStart, now − forMs)
 */
export type AlertState = 'ok' | 'pending' | 'firing' | 'resolved';

export interface AlertEvent {
  ruleId: string;
  label: string;
  from: AlertState;
  to: AlertState;
  value: number | null;
  threshold: number;
  at: number;
  message: string;
  severity: AlertSeverity;
}

export interface AlertStatus {
  ruleId: string;
  label: string;
  state: AlertState;
  /** When the instance entered its current state. */
  since: number;
  value: number | null;
  threshold: number;
  message: string;
  severity: AlertSeverity;
}

export interface AlertEvaluatorOptions {
  rules: readonly AlertRule[];
  source: MetricSource;
  now?: () => number;
  /** Period of start()'s timer. */
  intervalMs?: number;
  /** Longest pause between evaluations that still counts as continuous observation. */
  maxGapMs?: number;
  logger?: Logger;
}

interface Point {
  t: number;
  v: number;
}

/** Change points kept per rising instance; beyond it every other one is dropped (still monotone). */
const MAX_POINTS = 2048;

interface Instance {
  rule: AlertRule;
  label: string;
  state: AlertState;
  since: number;
  value: number | null;
  /** When a threshold condition last became true; null while false. */
  conditionSince: number | null;
  /** Start of the current stretch of continuous data (no null, no gap); null without data. */
  observedSince: number | null;
  /** Rising rules: start of the current non-decreasing run and its change points. */
  runStart: number | null;
  points: Point[];
}

type Target = 'none' | 'pending' | 'firing';

export class AlertEvaluator extends EventEmitter<{ change: [AlertEvent] }> {
  readonly #rules: readonly AlertRule[];
  readonly #source: MetricSource;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #maxGapMs: number;
  readonly #logger: Logger;
  readonly #instances = new Map<string, Instance>();
  #lastEvaluation: number | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: AlertEvaluatorOptions) {
    super();
    const ids = new Set<string>();
    for (const rule of options.rules) {
      if (ids.has(rule.id)) throw new Error(`duplicate alert rule id "${rule.id}"`);
      ids.add(rule.id);
    }
    this.#rules = options.rules;
    this.#source = options.source;
    this.#now = options.now ?? Date.now;
    this.#intervalMs = options.intervalMs ?? 5_000;
    this.#maxGapMs = options.maxGapMs ?? Math.max(60_000, 3 * this.#intervalMs);
    this.#logger = options.logger ?? silentLogger;
  }

  /** Evaluates every rule once at `now`; emits and returns the transitions. */
  evaluate(now: number = this.#now()): AlertEvent[] {
    const values = this.#source(now);
    if (this.#lastEvaluation !== null && now - this.#lastEvaluation > this.#maxGapMs) this.#restartTimers();
    this.#lastEvaluation = now;
    const events: AlertEvent[] = [];
    for (const rule of this.#rules) {
      const byLabel = values[rule.metric] ?? {};
      for (const [label, value] of Object.entries(byLabel)) {
        const instance = this.#instance(rule, label, now);
        this.#step(instance, value, now, events);
      }
      for (const [key, instance] of this.#instances) {
        if (instance.rule !== rule || Object.hasOwn(byLabel, instance.label)) continue;
        this.#step(instance, null, now, events);
        if (instance.state === 'ok' || instance.state === 'resolved') this.#instances.delete(key);
      }
    }
    for (const event of events) this.emit('change', event);
    return events;
  }

  /** Every instance that is not ok: pending, firing, or resolved and not yet seen again. */
  status(): AlertStatus[] {
    const result: AlertStatus[] = [];
    for (const instance of this.#instances.values()) {
      if (instance.state === 'ok') continue;
      result.push({
        ruleId: instance.rule.id,
        label: instance.label,
        state: instance.state,
        since: instance.since,
        value: instance.value,
        threshold: instance.rule.threshold,
        message: renderAlertMessage(instance.rule, instance.label, instance.value),
        severity: instance.rule.severity,
      });
    }
    return result;
  }

  firing(): AlertStatus[] {
    return this.status().filter((status) => status.state === 'firing');
  }

  /** Evaluates every `intervalMs` on a timer that doesn't keep the process alive. */
  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      try {
        this.evaluate();
      } catch (error) {
        this.#logger.warn({ err: error }, 'alert evaluation failed');
      }
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #instance(rule: AlertRule, label: string, now: number): Instance {
    const key = `${rule.id}\u0000${label}`;
    let instance = this.#instances.get(key);
    if (instance === undefined) {
      instance = { rule, label, state: 'ok', since: now, value: null, conditionSince: null, observedSince: null, runStart: null, points: [] };
      this.#instances.set(key, instance);
    }
    return instance;
  }

  #step(instance: Instance, raw: number | null, now: number, events: AlertEvent[]): void {
    const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
    instance.value = value;
    instance.observedSince = value === null ? null : (instance.observedSince ?? now);
    const rising = instance.rule.comparator === 'rising';
    let target = rising ? risingTarget(instance, value, now) : thresholdTarget(instance, value, now);
    const historySince = rising ? instance.runStart : instance.observedSince;
    if (target !== 'none' && (historySince === null || now - historySince < instance.rule.minHistoryMs)) target = 'none';
    const next = nextState(instance.state, target);
    if (next === instance.state) return;
    const event: AlertEvent = {
      ruleId: instance.rule.id,
      label: instance.label,
      from: instance.state,
      to: next,
      value,
      threshold: instance.rule.threshold,
      at: now,
      message: renderAlertMessage(instance.rule, instance.label, value),
      severity: instance.rule.severity,
    };
    instance.state = next;
    instance.since = now;
    events.push(event);
  }

  #restartTimers(): void {
    for (const instance of this.#instances.values()) {
      instance.conditionSince = null;
      instance.observedSince = null;
      instance.runStart = null;
      instance.points = [];
    }
  }
}

function nextState(state: AlertState, target: Target): AlertState {
  switch (state) {
    case 'ok':
    case 'resolved':
      return target === 'none' ? state : target;
    case 'pending':
      return target === 'none' ? 'ok' : target;
    case 'firing':
      return target === 'none' ? 'resolved' : 'firing';
  }
}

function thresholdTarget(instance: Instance, value: number | null, now: number): Target {
  const { comparator, threshold, forMs } = instance.rule;
  const holds = value !== null && (comparator === '>' ? value > threshold : value < threshold);
  if (!holds) {
    instance.conditionSince = null;
    return 'none';
  }
  instance.conditionSince ??= now;
  return now - instance.conditionSince >= forMs ? 'firing' : 'pending';
}

function risingTarget(instance: Instance, value: number | null, now: number): Target {
  const { threshold, forMs } = instance.rule;
  const points = instance.points;
  if (value === null) {
    instance.runStart = null;
    instance.points = [];
    return 'none';
  }
  const last = points.at(-1);
  if (last === undefined || instance.runStart === null || value < last.v) {
    instance.runStart = now;
    instance.points = [{ t: now, v: value }];
    return 'none';
  }
  if (value > last.v) points.push({ t: now, v: value });

  const horizon = now - forMs;
  // Only the last point at or before the horizon matters for v(now − forMs); older ones can go.
  let drop = 0;
  while (drop + 1 < points.length && points[drop + 1]!.t <= horizon) drop++;
  if (drop > 0) points.splice(0, drop);
  if (points.length > MAX_POINTS) instance.points = points.filter((_, i) => i === 0 || i === points.length - 1 || i % 2 === 0);

  const base = instance.points[0]!;
  // points[0] is v(max(runStart, horizon)): either the run's first point or the last one before the horizon.
  const grewInWindow = value - base.v > threshold;
  const from = Math.max(instance.runStart, horizon);
  if (!grewInWindow || !roseInEachThird(instance.points, from, now)) return 'none';
  return instance.runStart <= horizon ? 'firing' : 'pending';
}

/**
 * Whether an increase falls in each third of (from, now]. Every point after the first is an increase
 * (risingTarget keeps change points only), and the first lies at or before `from`.
 */
function roseInEachThird(points: readonly Point[], from: number, now: number): boolean {
  const span = now - from;
  if (span <= 0) return false;
  let third = 0;
  for (let i = 1; i < points.length && third < 3; i++) {
    const t = points[i]!.t;
    // Skip to the third this increase falls in; a third passed over without one fails.
    const at = Math.min(2, Math.floor(((t - from) / span) * 3 - 1e-9));
    if (at > third) return false;
    if (at === third) third++;
  }
  return third === 3;
}

