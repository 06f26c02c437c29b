import assert from 'node:assert/strict';
import { test } from 'node:test';
import { watchLiveness } from '../../server/gateway/liveness-watch.ts';
import { pino } from 'pino';

test('overdue calls make it ping; silence is logged with the server and the calls waiting, and reported stuck', async () => {
  let now = 0;
  let tick = () => {};
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const calls = { size: 0, oldestStartedAt: (): number | null => null };
  let pings = 0;
  const stuck: string[] = [];
  const probe = watchLiveness(
    { overdueMs: 3000, pingTimeoutMs: 5000, checkEveryMs: 1000, restartAfterMs: 30_000 },
    { serverName: 'fx', log, calls, ping: () => (pings++, pings === 1 ? Promise.resolve() : new Promise(() => {})), onStuck: (why) => stuck.push(why), clock: { now: () => now, every: (fn) => ((tick = fn), () => {}) } },
  );
  try {
    probe.up(); // the first ping learns that it answers pings
    await Promise.resolve();
    const step = (ms: number) => ((now += ms), tick());
    step(10_000);
    assert.equal(pings, 1, 'no call in flight: no ping');
    Object.assign(calls, { size: 2, oldestStartedAt: () => now - 4000 });
    step(1000);
    assert.equal(pings, 2);
    step(5000);
    assert.equal(probe.silentMs(), 5000);
    step(25_000);
    assert.deepEqual(stuck, ['not answering: no reply to ping for 30 s']);
    const warning = lines.find((l) => String(l.msg).startsWith('server is not answering'));
    assert.equal(warning?.server, 'fx');
    assert.equal(warning?.inFlight, 2);
    probe.heard();
    assert.equal(probe.silentMs(), null);
    assert.ok(lines.some((l) => l.msg === 'server is answering again after 30 s'));
  } finally {
    probe.stop();
  }
});
