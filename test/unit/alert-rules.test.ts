import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertEvaluator, type AlertEvent } from '../../server/metrics/alert-evaluator.ts';
import {
  DEFAULT_ALERT_RULES,
  alertOverridesSchema,
  alertRules,
  renderAlertMessage,
  type AlertRule,
} from '../../server/metrics/alert-rules.ts';
import { METRIC, type MetricValues } from '../../server/metrics/metric-values.ts';
import { HarborMetrics } from '../../server/metrics/registry.ts';

const T0 = 1_700_000_000_000;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const MB = 1024 * 1024;

function rule(id: string): AlertRule {
  const found = DEFAULT_ALERT_RULES.find((r) => r.id === id);
  assert.ok(found, `no default rule ${id}`);
  return found;
}

/** An evaluator over a HarborMetrics, driven by a clock the test owns. */
function harness(ruleIds: string[]) {
  const metrics = new HarborMetrics();
  let clock = T0;
  const evaluator = new AlertEvaluator({ rules: ruleIds.map(rule), source: (now) => metrics.values(now), now: () => clock });
  const events: AlertEvent[] = [];
  evaluator.on('change', (event) => events.push(event));
  return {
    metrics,
    evaluator,
    events,
    get now() {
      return clock;
    },
    /** Advances the clock in steps of `stepMs` for `spanMs`, calling `feed` then evaluating at each step. */
    advance(spanMs: number, stepMs: number, feed: (now: number) => void = () => {}) {
      const steps = Math.ceil(spanMs / stepMs);
      assert.ok(steps <= 10_000);
      for (let i = 0; i < steps; i++) {
        clock += stepMs;
        feed(clock);
        evaluator.evaluate();
      }
    },
    transitions() {
      return events.map((e) => `${e.ruleId}[${e.label}] ${e.from}→${e.to}`);
    },
  };
}

describe('default alert rules', () => {
  it('match DESIGN.md section 7', () => {
    const summary = DEFAULT_ALERT_RULES.map((r) => [r.id, r.metric, r.comparator, r.threshold, r.forMs, r.severity]);
    assert.deepEqual(summary, [
      ['latency-p95-high', METRIC.latencyP95, '>', 2000, 1 * MINUTE, 'warning'],
      ['error-rate-high', METRIC.errorRate, '>', 0.05, 5 * MINUTE, 'warning'],
      ['memory-high', METRIC.memoryRatio, '>', 0.8, 10 * MINUTE, 'warning'],
      ['cache-hit-low', METRIC.cacheHitRatio, '<', 0.7, 10 * MINUTE, 'warning'],
      ['cache-hit-high', METRIC.cacheHitRatio, '>', 0.9, 30 * MINUTE, 'note'],
      ['connections-leak', METRIC.openConnections, 'rising', 0, 30 * MINUTE, 'warning'],
      ['ratelimit-low', METRIC.rateLimitRemaining, '<', 0.1, 0, 'warning'],
    ]);
  });

  it('p95 latency > 2 s fires after a minute and resolves when fast requests bring it down', () => {
    const h = harness(['latency-p95-high']);
    const slow = (now: number) => {
      for (let i = 0; i < 5; i++) h.metrics.observeRequest({ server: 'docs', method: 'tools/call', tool: 'search_docs', durationMs: 2600, now });
    };
    h.advance(30 * SECOND, 10 * SECOND, slow);
    assert.deepEqual(h.transitions(), ['latency-p95-high[docs/search_docs] ok→pending']);
    h.advance(60 * SECOND, 10 * SECOND, slow);
    assert.deepEqual(h.transitions().at(-1), 'latency-p95-high[docs/search_docs] pending→firing');
    const firing = h.events.at(-1)!;
    assert.equal(firing.threshold, 2000);
    assert.equal(firing.severity, 'warning');
    assert.ok(firing.value !== null && firing.value > 2000);
    // Pending from the first full window (20 s: ten samples), firing one minute later.
    assert.equal(firing.at, T0 + 80 * SECOND);
    assert.match(firing.message, /^docs\/search_docs: p95 latency 2\.\d s \(limit 2\.0 s\)$/);
    assert.equal(h.evaluator.firing().length, 1);
    h.advance(10 * SECOND, 10 * SECOND, (now) => {
      for (let i = 0; i < 2000; i++) h.metrics.observeRequest({ server: 'docs', method: 'tools/call', tool: 'search_docs', durationMs: 40, now });
    });
    assert.deepEqual(h.transitions().at(-1), 'latency-p95-high[docs/search_docs] firing→resolved');
    assert.equal(h.evaluator.firing().length, 0);
  });

  it('error rate > 5 % fires after 5 minutes of a 10 % failing stream and resolves once it heals', () => {
    const h = harness(['error-rate-high']);
    let n = 0;
    const traffic = (failEvery: number) => (now: number) => {
      for (let i = 0; i < 10; i++) h.metrics.observeRequest({ server: 'docs', method: 'tools/call', tool: 't', durationMs: 5, error: n++ % failEvery === 0 ? 'jsonrpc' : null, now });
    };
    h.advance(4 * MINUTE, 10 * SECOND, traffic(10));
    assert.deepEqual(h.transitions(), ['error-rate-high[docs] ok→pending']);
    // Pending since 20 s (first window with ≥ 20 requests), so firing at 5 min 20 s.
    h.advance(1 * MINUTE + 20 * SECOND, 10 * SECOND, traffic(10));
    assert.deepEqual(h.transitions().at(-1), 'error-rate-high[docs] pending→firing');
    assert.ok(Math.abs(h.events.at(-1)!.value! - 0.1) < 0.01);
    // Healthy traffic: the rolling rate falls below 5 % within the window.
    h.advance(5 * MINUTE, 10 * SECOND, traffic(1_000_000_000));
    assert.deepEqual(h.transitions().at(-1), 'error-rate-high[docs] firing→resolved');
  });

  it('memory > 80 % of the limit fires after 10 minutes and resolves after a restart frees it', () => {
    const h = harness(['memory-high']);
    // First seen at 10 s; still pending ten minutes of samples later at 10 min 0 s.
    h.advance(10 * MINUTE, 10 * SECOND, () => h.metrics.setProcessMemory('docs', 450 * MB, 512 * MB));
    assert.deepEqual(h.transitions(), ['memory-high[docs] ok→pending']);
    h.advance(10 * SECOND, 10 * SECOND, () => h.metrics.setProcessMemory('docs', 450 * MB, 512 * MB));
    assert.deepEqual(h.transitions().at(-1), 'memory-high[docs] pending→firing');
    assert.equal(h.events.at(-1)!.message, 'docs: memory at 88 % of its limit for 10 min');
    h.advance(10 * SECOND, 10 * SECOND, () => h.metrics.setProcessMemory('docs', 60 * MB, 512 * MB));
    assert.deepEqual(h.transitions().at(-1), 'memory-high[docs] firing→resolved');
  });

  it('a dip below the threshold restarts the pending timer', () => {
    const h = harness(['memory-high']);
    h.advance(8 * MINUTE, 10 * SECOND, () => h.metrics.setProcessMemory('docs', 450 * MB, 512 * MB));
    h.advance(10 * SECOND, 10 * SECOND, () => h.metrics.setProcessMemory('docs', 100 * MB, 512 * MB));
    h.advance(8 * MINUTE, 10 * SECOND, () => h.metrics.setProcessMemory('docs', 450 * MB, 512 * MB));
    assert.deepEqual(h.transitions(), ['memory-high[docs] ok→pending', 'memory-high[docs] pending→ok', 'memory-high[docs] ok→pending']);
  });

  it('cache hit ratio < 70 % fires after 10 minutes, and > 90 % raises a note after 30', () => {
    const h = harness(['cache-hit-low', 'cache-hit-high']);
    let hits = 0;
    let misses = 0;
    const lookups = (hitShare: number) => () => {
      hits += 100 * hitShare;
      misses += 100 * (1 - hitShare);
      h.metrics.setCacheStats('tools', hits, misses, h.now);
    };
    h.advance(10 * MINUTE + 10 * SECOND, 10 * SECOND, lookups(0.5));
    assert.deepEqual(h.transitions(), ['cache-hit-low[tools] ok→pending', 'cache-hit-low[tools] pending→firing']);
    assert.equal(h.events.at(-1)!.message, 'tools cache: hit ratio 50 % (below 70 %), the cache may be too small');
    h.advance(6 * MINUTE, 10 * SECOND, lookups(0.95));
    assert.ok(h.transitions().includes('cache-hit-low[tools] firing→resolved'));
    h.advance(30 * MINUTE, 10 * SECOND, lookups(0.95));
    const note = h.events.find((e) => e.ruleId === 'cache-hit-high' && e.to === 'firing');
    assert.ok(note);
    assert.equal(note.severity, 'note');
    h.advance(6 * MINUTE, 10 * SECOND, lookups(0.8));
    assert.equal(h.transitions().at(-1), 'cache-hit-high[tools] firing→resolved');
  });

  it('open connections rising monotonically for 30 minutes fire as a leak; a drop resolves it', () => {
    const h = harness(['connections-leak']);
    let sessions = 0;
    const leak = (now: number) => {
      // Grows by one a minute and never goes down.
      sessions = Math.floor((now - T0) / MINUTE);
      h.metrics.setConnections({ sockets: 2, streams: 0, sessions: { docs: sessions } }, now);
    };
    h.advance(29 * MINUTE, 10 * SECOND, leak);
    assert.deepEqual(h.transitions(), ['connections-leak[sessions] ok→pending']);
    h.advance(70 * SECOND, 10 * SECOND, leak);
    assert.deepEqual(h.transitions().at(-1), 'connections-leak[sessions] pending→firing');
    assert.match(h.events.at(-1)!.message, /^open sessions never went down in 30 min \(now \d+\): likely a leak$/);
    h.advance(10 * SECOND, 10 * SECOND, (now) => h.metrics.setConnections({ sockets: 2, streams: 0, sessions: { docs: sessions - 5 } }, now));
    assert.deepEqual(h.transitions().at(-1), 'connections-leak[sessions] firing→resolved');
    // Sockets never moved: flat is not a leak.
    assert.ok(!h.events.some((e) => e.label === 'sockets'));
  });

  it('a leak that stops growing for 30 minutes resolves; a sawtooth never fires', () => {
    const h = harness(['connections-leak']);
    let sessions = 0;
    h.advance(31 * MINUTE, 1 * MINUTE, (now) => h.metrics.setConnections({ sockets: 0, streams: 0, sessions: { docs: ++sessions } }, now));
    assert.equal(h.transitions().at(-1), 'connections-leak[sessions] pending→firing');
    h.advance(30 * MINUTE, 1 * MINUTE, (now) => h.metrics.setConnections({ sockets: 0, streams: 0, sessions: { docs: sessions } }, now));
    assert.equal(h.transitions().at(-1), 'connections-leak[sessions] firing→resolved');

    const saw = harness(['connections-leak']);
    let step = 0;
    saw.advance(2 * 60 * MINUTE, 1 * MINUTE, (now) => {
      step++;
      saw.metrics.setConnections({ sockets: step % 20, streams: 0, sessions: {} }, now);
    });
    assert.ok(!saw.events.some((e) => e.to === 'firing'), saw.transitions().join('; '));
  });

  it('rate-limit remaining < 10 % fires at once and resolves when the budget recovers', () => {
    const h = harness(['ratelimit-low']);
    h.advance(10 * SECOND, 10 * SECOND, (now) => h.metrics.setRateLimit('embeddings', 40, 1000, null, now));
    assert.deepEqual(h.transitions(), ['ratelimit-low[embeddings] ok→firing']);
    assert.equal(h.events[0]!.message, 'embeddings: only 4 % of the upstream rate limit left');
    h.advance(10 * SECOND, 10 * SECOND, (now) => h.metrics.setRateLimit('embeddings', 900, 1000, null, now));
    assert.deepEqual(h.transitions().at(-1), 'ratelimit-low[embeddings] firing→resolved');
    h.advance(10 * SECOND, 10 * SECOND, (now) => h.metrics.setRateLimit('embeddings', 10, 1000, null, now));
    assert.deepEqual(h.transitions().at(-1), 'ratelimit-low[embeddings] resolved→firing');
  });
});

describe('AlertEvaluator', () => {
  const fake = (metric: string, byLabel: Record<string, number | null>): MetricValues => ({ [metric]: byLabel });

  it('keeps one state machine per label', () => {
    let values: MetricValues = fake(METRIC.memoryRatio, { docs: 0.9, github: 0.2 });
    const evaluator = new AlertEvaluator({ rules: alertRules({ 'memory-high': { forMs: 0 } }, [rule('memory-high')]), source: () => values });
    assert.deepEqual(
      evaluator.evaluate(T0).map((e) => [e.label, e.to]),
      [['docs', 'firing']],
    );
    values = fake(METRIC.memoryRatio, { docs: 0.9, github: 0.95 });
    assert.deepEqual(
      evaluator.evaluate(T0 + 1).map((e) => [e.label, e.to]),
      [['github', 'firing']],
    );
    assert.deepEqual(
      evaluator.status().map((s) => [s.label, s.state]).sort(),
      [
        ['docs', 'firing'],
        ['github', 'firing'],
      ],
    );
  });

  it('resolves and forgets a label that disappears, and treats null as no data', () => {
    let values: MetricValues = fake(METRIC.rateLimitRemaining, { embeddings: 0.01 });
    const evaluator = new AlertEvaluator({ rules: [rule('ratelimit-low')], source: () => values });
    evaluator.evaluate(T0);
    values = fake(METRIC.rateLimitRemaining, {});
    const [event] = evaluator.evaluate(T0 + 1);
    assert.deepEqual([event?.from, event?.to, event?.value], ['firing', 'resolved', null]);
    assert.deepEqual(evaluator.status(), []);
    values = fake(METRIC.rateLimitRemaining, { embeddings: null });
    assert.deepEqual(evaluator.evaluate(T0 + 2), []);
  });

  it('restarts pending timers after a long gap (laptop asleep) instead of firing at once', () => {
    const values = fake(METRIC.memoryRatio, { docs: 0.9 });
    const evaluator = new AlertEvaluator({ rules: [rule('memory-high')], source: () => values, maxGapMs: MINUTE });
    assert.equal(evaluator.evaluate(T0)[0]?.to, 'pending');
    // Asleep for an hour: one sample after waking is not ten minutes of evidence.
    assert.deepEqual(evaluator.evaluate(T0 + 60 * MINUTE), []);
    for (let t = T0 + 60 * MINUTE; t < T0 + 70 * MINUTE; t += 30 * SECOND) assert.deepEqual(evaluator.evaluate(t), []);
    assert.equal(evaluator.evaluate(T0 + 70 * MINUTE)[0]?.to, 'firing');
  });

  it('runs on a timer that can be stopped, and reports a failing source instead of throwing', async () => {
    let calls = 0;
    const evaluator = new AlertEvaluator({
      rules: [rule('ratelimit-low')],
      source: () => {
        calls++;
        throw new Error('source broke');
      },
      intervalMs: 5,
    });
    evaluator.start();
    const deadline = Date.now() + 5000;
    while (calls < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    evaluator.stop();
    assert.ok(calls >= 2);
  });

  it('rejects duplicate rule ids', () => {
    assert.throws(() => new AlertEvaluator({ rules: [rule('memory-high'), rule('memory-high')], source: () => ({}) }), /duplicate/);
  });
});

describe('alert rule configuration', () => {
  it('overrides thresholds and durations, drops disabled rules, refuses unknown ids', () => {
    const rules = alertRules({ 'latency-p95-high': { threshold: 5000 }, 'memory-high': { forMs: 60_000 }, 'cache-hit-high': { enabled: false } });
    assert.equal(rules.find((r) => r.id === 'latency-p95-high')?.threshold, 5000);
    assert.equal(rules.find((r) => r.id === 'memory-high')?.forMs, 60_000);
    assert.equal(rules.some((r) => r.id === 'cache-hit-high'), false);
    assert.equal(rules.length, DEFAULT_ALERT_RULES.length - 1);
    assert.equal(DEFAULT_ALERT_RULES.find((r) => r.id === 'latency-p95-high')?.threshold, 2000);
    assert.throws(() => alertRules({ 'latency-p59': { threshold: 1 } }), /unknown alert rule "latency-p59"/);
  });

  it('validates overrides from config with zod', () => {
    assert.ok(alertOverridesSchema.safeParse({ 'memory-high': { threshold: 0.9, forMs: 300_000 } }).success);
    assert.equal(alertOverridesSchema.safeParse({ 'memory-high': { forMs: -1 } }).success, false);
    assert.equal(alertOverridesSchema.safeParse({ 'memory-high': { treshold: 0.9 } }).success, false);
  });

  it('renders messages in the rule’s unit', () => {
    assert.equal(renderAlertMessage(rule('latency-p95-high'), 'docs/search', 850), 'docs/search: p95 latency 850 ms (limit 2.0 s)');
    assert.equal(renderAlertMessage(rule('error-rate-high'), 'docs', 0.123), 'docs: 12 % of requests failing for 5 min (limit 5 %)');
  });
});
