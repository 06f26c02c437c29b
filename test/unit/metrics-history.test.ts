import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MetricHistory } from '../../server/metrics/history.ts';
import { METRIC } from '../../server/metrics/metric-values.ts';
import { openDatabase } from '../../server/store/sqlite-database.ts';

const dir = mkdtempSync(join(tmpdir(), 'harbor-history-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Math.floor(1_700_000_000_000 / 60_000) * 60_000; // on a minute edge, for readable buckets
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

let fileNumber = 0;
function freshFile(): string {
  return join(dir, `history-${++fileNumber}.db`);
}

describe('MetricHistory', () => {
  it('keeps 10 s points for the last hour and 1-minute averages before that', () => {
    const db = openDatabase(freshFile());
    const history = new MetricHistory(db);
    // Three hours of memory samples every 10 s; the value is the minute number, so averages are exact.
    for (let t = T0; t < T0 + 3 * HOUR; t += 10 * SECOND) {
      history.record({ [METRIC.memoryRatio]: { docs: Math.floor((t - T0) / MINUTE) } }, t);
    }
    const now = T0 + 3 * HOUR - 10 * SECOND;
    const [series] = history.query(METRIC.memoryRatio, T0, { now });
    assert.ok(series);
    assert.equal(series.label, 'docs');
    const points = series.points;
    // Oldest first, no duplicate time.
    for (let i = 1; i < points.length; i++) assert.ok(points[i]!.t > points[i - 1]!.t);
    const recent = points.filter((p) => p.t > now - HOUR);
    const older = points.filter((p) => p.t <= now - HOUR);
    assert.ok(recent.length >= 350 && recent.length <= 360, `recent ${recent.length}`);
    for (let i = 1; i < recent.length; i++) assert.equal(recent[i]!.t - recent[i - 1]!.t, 10 * SECOND);
    assert.ok(older.length >= 115 && older.length <= 121, `older ${older.length}`);
    for (let i = 1; i < older.length; i++) assert.equal(older[i]!.t - older[i - 1]!.t, MINUTE);
    // A 1-minute average of six samples of the same minute number is that number.
    assert.equal(older[0]!.t, T0);
    assert.equal(older[0]!.value, 0);
    assert.equal(older[5]!.value, 5);
    db.close();
  });

  it('averages samples that land in the same bucket', () => {
    const db = openDatabase(freshFile());
    const history = new MetricHistory(db);
    history.record({ [METRIC.errorRate]: { docs: 0.1 } }, T0 + 1 * SECOND);
    history.record({ [METRIC.errorRate]: { docs: 0.3 } }, T0 + 2 * SECOND);
    const [series] = history.query(METRIC.errorRate, T0, { now: T0 + 3 * SECOND });
    assert.deepEqual(series?.points.map((p) => [p.t, Math.round(p.value * 1000) / 1000]), [[T0, 0.2]]);
    db.close();
  });

  it('stays bounded in rows however long it runs', () => {
    const db = openDatabase(freshFile());
    const history = new MetricHistory(db, {
      tiers: [
        { resolutionMs: 10 * SECOND, spanMs: 5 * MINUTE },
        { resolutionMs: MINUTE, spanMs: 30 * MINUTE },
      ],
    });
    const perSeries = 5 * 6 + 30;
    for (let t = T0; t < T0 + 3 * HOUR; t += 10 * SECOND) {
      history.record({ [METRIC.memoryRatio]: { docs: 0.5, host: 0.2 }, [METRIC.openConnections]: { sockets: 3, sessions: null } }, t);
    }
    assert.equal(history.rowCount(), 3 * perSeries);
    // Nothing older than the coarse span comes back.
    const [docs] = history.query(METRIC.memoryRatio, T0, { label: 'docs', now: T0 + 3 * HOUR });
    assert.ok(docs && docs.points[0]!.t > T0 + 3 * HOUR - 30 * MINUTE - MINUTE);
    db.close();
  });

  it('refuses series beyond maxSeries', () => {
    const db = openDatabase(freshFile());
    const history = new MetricHistory(db, { maxSeries: 3 });
    const many: Record<string, number> = {};
    for (let i = 0; i < 20; i++) many[`tool-${i}`] = i;
    history.record({ [METRIC.latencyP95]: many }, T0);
    assert.equal(history.query(METRIC.latencyP95, T0, { now: T0 }).length, 3);
    db.close();
  });

  it('survives closing and reopening the database', () => {
    const file = freshFile();
    let db = openDatabase(file);
    let history = new MetricHistory(db);
    for (let t = T0; t < T0 + 10 * MINUTE; t += 10 * SECOND) history.record({ [METRIC.cacheHitRatio]: { tools: 0.75 } }, t);
    // A sample mid-bucket before the "restart"…
    history.record({ [METRIC.cacheHitRatio]: { tools: 0.5 } }, T0 + 10 * MINUTE + 1 * SECOND);
    db.close();

    db = openDatabase(file);
    history = new MetricHistory(db);
    // …and one after it in the same bucket: they are averaged, not overwritten.
    history.record({ [METRIC.cacheHitRatio]: { tools: 1 } }, T0 + 10 * MINUTE + 2 * SECOND);
    const [series] = history.query(METRIC.cacheHitRatio, T0, { now: T0 + 10 * MINUTE + 5 * SECOND });
    assert.ok(series);
    assert.equal(series.points.length, 61);
    assert.equal(series.points[0]!.t, T0);
    assert.equal(series.points[0]!.value, 0.75);
    assert.equal(series.points.at(-1)!.value, 0.75);
    db.close();
  });

  it('drops buckets older than their span, so series nobody reports fade away', () => {
    const file = freshFile();
    let db = openDatabase(file);
    new MetricHistory(db).record({ [METRIC.memoryRatio]: { retired: 0.4 } }, T0);
    db.close();
    db = openDatabase(file);
    const history = new MetricHistory(db);
    history.record({ [METRIC.memoryRatio]: { docs: 0.4 } }, T0 + 25 * HOUR);
    assert.deepEqual(history.query(METRIC.memoryRatio, 0, { now: T0 + 25 * HOUR }).map((s) => s.label), ['docs']);
    assert.equal(history.rowCount(), 2);
    db.close();
  });
});
