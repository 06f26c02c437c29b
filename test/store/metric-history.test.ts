import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRIC } from '../../server/metrics/metric-values.ts';
import { describeEachBackend } from './store-backends.ts';

const T0 = Math.floor(1_700_000_000_000 / 60_000) * 60_000;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describeEachBackend('metric history', (backend) => {
  test('10 s points for the last hour, 1-minute averages before it, the same after reopening; rows bounded by the rings', async (t) => {
    const site = await backend.fresh(t);
    const store = await site.open('replica-a');
    // Two hours of samples every 10 s; the value is the minute number, so the averages are exact.
    for (let at = T0; at < T0 + 2 * HOUR; at += 10 * SECOND) {
      store.history.record({ [METRIC.memoryRatio]: { docs: Math.floor((at - T0) / MINUTE) } }, at);
    }
    const now = T0 + 2 * HOUR - 10 * SECOND;
    const before = store.history.query(METRIC.memoryRatio, T0, { now });
    const points = before[0]!.points;
    const recent = points.filter((p) => p.t > now - HOUR);
    assert.ok(recent.length >= 350 && recent.length <= 360, `recent ${recent.length}`);
    assert.equal(points[0]!.t, T0);
    assert.equal(points[5]!.value, 5, 'a minute of six samples of the same value');
    assert.equal(store.history.rowCount(), 360 + 120, 'one ring per tier, no more rows than slots used');
    await store.close();

    const reopened = await site.open('replica-a');
    assert.deepEqual(reopened.history.query(METRIC.memoryRatio, T0, { now }), before);
  });

  test('each replica keeps its own history', async (t) => {
    const site = await backend.fresh(t);
    const a = await site.open('replica-a');
    a.history.record({ [METRIC.errorRate]: { docs: 0.25 } }, T0);
    await a.close();
    const b = await site.open('replica-b');
    // PostgreSQL keys the rows by replica; a SQLite home is one host's, one ring per series.
    if (backend.name === 'postgres') assert.deepEqual(b.history.query(METRIC.errorRate, T0, { now: T0 + SECOND }), []);
    b.history.record({ [METRIC.errorRate]: { docs: 0.75 } }, T0);
    await b.close();
    const again = await site.open('replica-a');
    const expected = backend.name === 'postgres' ? 0.25 : 0.5;
    assert.deepEqual(again.history.query(METRIC.errorRate, T0, { now: T0 + SECOND })[0]?.points, [{ t: T0, value: expected }]);
  });
});
