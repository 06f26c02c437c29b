import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startLivenessProbe, type LivenessHooks } from '../../server/gateway/liveness-probe.ts';

// The probe's rules on a hand-driven clock: the real-process behaviour is in frozen-upstream.test.ts.

function harness(options: { answersPing: boolean }) {
  let t = 0;
  let tick = () => {};
  let oldest: number | null = null;
  const pings: Array<() => void> = [];
  const events: string[] = [];
  const hooks: LivenessHooks = {
    oldestInFlightAt: () => oldest,
    ping: () => new Promise<void>((resolve) => { if (options.answersPing) pings.push(resolve); }),
    onUnresponsive: (ms) => events.push(`unresponsive ${ms}`),
    onResponsive: (ms) => events.push(`responsive ${ms}`),
    onStuck: (ms) => events.push(`stuck ${ms}`),
    now: () => t,
    every: (fn) => {
      tick = fn;
      return () => (tick = () => {});
    },
  };
  const probe = startLivenessProbe({ overdueMs: 3000, pingTimeoutMs: 5000, checkEveryMs: 1000, restartAfterMs: 30_000 }, hooks);
  const advance = async (ms: number) => {
    for (let i = 0; i < ms / 1000; i++) {
      t += 1000;
      tick();
      await Promise.resolve();
    }
  };
  const answer = async () => {
    for (const resolve of pings.splice(0)) resolve();
    await new Promise((r) => setImmediate(r));
  };
  return { probe, events, pings, advance, answer, setOldest: (at: number | null) => (oldest = at), now: () => t };
}

test('idle: no ping; overdue calls: a ping; silence past the bound: unresponsive, then stuck; an answer clears it', async () => {
  const h = harness({ answersPing: true });
  h.probe.up();
  assert.equal(h.pings.length, 1, 'one ping at start learns that it answers pings');
  await h.answer();
  await h.advance(10_000);
  assert.equal(h.pings.length, 0, 'idle servers are not pinged');
  h.setOldest(h.now());
  await h.advance(3000);
  assert.equal(h.pings.length, 1);
  await h.advance(4000);
  assert.deepEqual(h.events, []);
  await h.advance(1000);
  assert.deepEqual(h.events, ['unresponsive 5000']);
  assert.equal(h.probe.silentMs(), 5000);
  await h.advance(25_000);
  assert.deepEqual(h.events, ['unresponsive 5000', 'stuck 30000']);
  await h.advance(5000);
  assert.equal(h.events.length, 2, 'stuck is reported once per frozen spell');
  await h.answer();
  assert.deepEqual(h.events.at(-1), 'responsive 35000');
  assert.equal(h.probe.silentMs(), null);
  h.probe.stop();
});

test('any message from the server proves it alive; a server that never answered a ping is reported, never restarted', async () => {
  const h = harness({ answersPing: false });
  h.probe.up();
  h.setOldest(h.now());
  await h.advance(9000);
  assert.deepEqual(h.events, ['unresponsive 5000']);
  h.probe.heard();
  assert.deepEqual(h.events, ['unresponsive 5000', 'responsive 6000']);
  await h.advance(60_000);
  assert.ok(!h.events.some((e) => e.startsWith('stuck')), `no restart for a server without ping: ${h.events.join(', ')}`);
  // A restart of the child forgets the spell.
  h.probe.down();
  assert.equal(h.probe.silentMs(), null);
  h.probe.stop();
});
