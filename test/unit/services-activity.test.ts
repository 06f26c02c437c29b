import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuditLog, SqliteAuditStore, type AuditEntry } from '../../server/access/audit-log.ts';
import { harborPaths } from '../../server/harbor-home.ts';
import { activityFilter, activityService } from '../../server/services/activity.ts';
import { ServiceInputError } from '../../server/services/input-error.ts';
import { withOfflineActivity } from '../../server/services/offline-services.ts';
import { tempHome } from '../helpers/harbor.ts';

/** Call i: ana on odd i, bo on even; memory every third, else docs; i ms long, at 1_000_000 + i. */
function call(i: number): AuditEntry {
  const who = { teammate: i % 2 ? 'ana' : 'bo', server: i % 3 ? 'docs' : 'memory' };
  return { ...who, method: 'tools/call', tool: 'search', durationMs: i, ok: true, at: 1_000_000 + i };
}

test('the filter: teammate, server, limit (default 100) and before; an empty value is no filter; a bad before is a 400', () => {
  assert.deepEqual(activityFilter(new URLSearchParams()), { limit: 100 });
  assert.deepEqual(activityFilter(new URLSearchParams({ teammate: 'ana', server: 'docs', limit: '5', before: '1000005' })), { teammate: 'ana', server: 'docs', limit: 5, before: 1_000_005 });
  assert.deepEqual(activityFilter(new URLSearchParams({ teammate: '', server: '' })), { limit: 100 });
  assert.throws(() => activityFilter(new URLSearchParams({ before: 'yesterday' })), (error: unknown) => {
    assert.ok(error instanceof ServiceInputError);
    assert.equal(error.status, 400);
    assert.equal(error.message, 'before must be a time in epoch milliseconds');
    return true;
  });
});

test('over a real SQLite audit log: filters, newest first, paging back with before, limits clamped by the store', async (t) => {
  const { home, cleanup } = tempHome();
  const log = new AuditLog(new SqliteAuditStore(harborPaths(home).database), { flushIntervalMs: 3_600_000 });
  t.after(async () => {
    await log.close();
    cleanup();
  });
  for (let i = 1; i <= 12; i++) log.record(call(i));
  // The host hands its AuditLog over: entries not yet written are found too.
  const activity = activityService(log);
  const ana = await activity.query(new URLSearchParams({ teammate: 'ana' }));
  assert.deepEqual(ana.map((e) => e.durationMs), [11, 9, 7, 5, 3, 1]);
  const anaDocs = await activity.query(new URLSearchParams({ teammate: 'ana', server: 'docs' }));
  assert.deepEqual(anaDocs.map((e) => e.durationMs), [11, 7, 5, 1]);
  const firstPage = await activity.query(new URLSearchParams({ limit: '4' }));
  assert.deepEqual(firstPage.map((e) => e.durationMs), [12, 11, 10, 9]);
  const nextPage = await activity.query(new URLSearchParams({ limit: '4', before: String(firstPage.at(-1)!.at) }));
  assert.deepEqual(nextPage.map((e) => e.durationMs), [8, 7, 6, 5]);
  assert.equal((await activity.query(new URLSearchParams({ limit: '0' }))).length, 1, 'clamped to at least one');
  assert.equal((await activity.query(new URLSearchParams({ limit: 'many' }))).length, 12, 'not a number: the default');
});

test('offline: the home\'s file read through open-store, what a host wrote before it stopped', async (t) => {
  const { home, cleanup } = tempHome();
  t.after(cleanup);
  const paths = harborPaths(home);
  const log = new AuditLog(new SqliteAuditStore(paths.database), { flushIntervalMs: 3_600_000 });
  for (let i = 1; i <= 3; i++) log.record(call(i));
  await log.close();
  const env = { ...process.env, HARBOR_DATABASE_URL: '' };
  const entries = await withOfflineActivity({ paths, env }, (activity) => activity.query(new URLSearchParams({ teammate: 'ana', limit: '50' })));
  assert.deepEqual(entries.map((e) => [e.teammate, e.server, e.durationMs]), [['ana', 'memory', 3], ['ana', 'docs', 1]]);
  await assert.rejects(withOfflineActivity({ paths, env }, (activity) => activity.query(new URLSearchParams({ before: 'x' }))), ServiceInputError);
});
