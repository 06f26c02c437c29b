import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertEvaluator, type AlertEvent } from '../../server/metrics/alert-evaluator.ts';
import { DEFAULT_ALERT_RULES } from '../../server/metrics/alert-rules.ts';
import { HarborMetrics } from '../../server/metrics/registry.ts';
import { seededRandom } from '../fixtures/seeded-random.ts';

/**
 * The false-alarm rate: every default rule, driven every 5 s (the host's sampling period) with the
 * samples a real host produces when nothing is wrong. The rules' real conditions are covered in
 * alert-rules.test.ts; here no alert may even be pending.
 */
const T0 = 1_700_000_000_000;
const STEP = 5_000;
const MINUTE = 60_000;
const MB = 1024 * 1024;

function drive(spanMs: number, sample: (now: number, step: number) => void, metrics: HarborMetrics) {
  let clock = T0;
  const evaluator = new AlertEvaluator({ rules: DEFAULT_ALERT_RULES, source: (now) => metrics.values(now), now: () => clock });
  const events: AlertEvent[] = [];
  evaluator.on('change', (event) => events.push(event));
  for (let step = 0; step * STEP <= spanMs; step++) {
    clock = T0 + step * STEP;
    sample(clock, step);
    evaluator.evaluate();
  }
  return { events, evaluator, transitions: () => events.map((e) => `${e.ruleId}[${e.label}] ${e.from}→${e.to} at ${(e.at - T0) / 1000}s`) };
}

describe('no false alarms', () => {
  it('a quiet host: counts climb from zero at start (a dashboard, one client), then stay', () => {
    const metrics = new HarborMetrics();
    const random = seededRandom(15);
    const run = drive(2 * 60 * MINUTE, (now, step) => {
      // Start: nothing; then the dashboard's keep-alive socket and polls, one client's session and
      // GET stream. The dashboard's polls open and close sockets at random.
      const started = step > 0;
      metrics.setConnections({ sockets: started ? 1 + Math.floor(random() * 3) : 0, streams: started ? 1 : 0, sessions: { docs: started ? 1 : 0 } }, now);
      metrics.setProcessMemory('host', (110 + random() * 20) * MB, 512 * MB);
      metrics.setProcessMemory('docs', (60 + random() * 5) * MB, 512 * MB);
      metrics.setCacheStats('tools', 0, 0, now);
    }, metrics);
    assert.deepEqual(run.transitions(), []);
    assert.deepEqual(run.evaluator.status(), []);
  });

  it('a quiet host whose counts only ever step up once or twice is not leaking, even after 30 minutes', () => {
    const metrics = new HarborMetrics();
    const run = drive(90 * MINUTE, (now, step) => {
      // A second client connects after 12 minutes and stays: two steps, no decrease, no steady growth.
      const sessions = step === 0 ? 0 : now - T0 < 12 * MINUTE ? 1 : 2;
      metrics.setConnections({ sockets: sessions, streams: sessions, sessions: { docs: sessions } }, now);
    }, metrics);
    assert.deepEqual(run.transitions(), []);
  });

  it('a steady load: three clients, fast calls, rare errors, a warm cache, sessions coming and going', () => {
    const metrics = new HarborMetrics();
    const random = seededRandom(7);
    let hits = 0;
    let misses = 0;
    let n = 0;
    const run = drive(2 * 60 * MINUTE, (now, step) => {
      for (let i = 0; i < 50; i++) {
        // 10 calls a second, 20-80 ms, one in 400 failing.
        metrics.observeRequest({ server: 'docs', method: 'tools/call', tool: 'search_docs', durationMs: 20 + random() * 60, error: n++ % 400 === 0 ? 'jsonrpc' : null, now });
      }
      hits += 40 + Math.round(random() * 5);
      misses += 8 + Math.round(random() * 3);
      metrics.setCacheStats('tools', hits, misses, now);
      // A client reconnects every few minutes: sessions 3, sometimes 4 for a moment.
      const extra = step % 40 < 2 ? 1 : 0;
      metrics.setConnections({ sockets: 3 + extra, streams: 3, sessions: { docs: 3 + extra } }, now);
      metrics.setProcessMemory('host', (180 + random() * 40) * MB, 512 * MB);
    }, metrics);
    assert.deepEqual(run.transitions(), []);
  });

  it('a real leak after a quiet start still fires', () => {
    const metrics = new HarborMetrics();
    const run = drive(80 * MINUTE, (now, step) => {
      // Quiet for 20 minutes, then one session more every minute, never closed.
      const leaked = Math.max(0, Math.floor((now - T0 - 20 * MINUTE) / MINUTE));
      metrics.setConnections({ sockets: 1, streams: 0, sessions: { docs: (step > 0 ? 1 : 0) + leaked } }, now);
    }, metrics);
    const firing = run.events.find((e) => e.ruleId === 'connections-leak' && e.label === 'sessions' && e.to === 'firing');
    assert.ok(firing, run.transitions().join('; '));
    // The run began with the quiet start; the window's every third must show growth: 20 + 30 minutes at the latest.
    assert.ok(firing.at - T0 <= 51 * MINUTE, run.transitions().join('; '));
    const pending = run.events.find((e) => e.ruleId === 'connections-leak' && e.to === 'pending');
    assert.ok(!pending || pending.at - T0 >= 20 * MINUTE + 10 * MINUTE, 'pending only once ten minutes show growth');
  });
});
