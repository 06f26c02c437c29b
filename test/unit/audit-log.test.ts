import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditLog, SqliteAuditStore, type AuditEntry } from '../../server/access/audit-log.ts';
import { openDatabase } from '../../server/store/sqlite-database.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'harbor-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Waits (bounded) until `check` holds; no timing assertion, just a cap on how long to wait. */
async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

const call = (i: number, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  teammate: i % 2 ? 'ana' : 'bo',
  server: i % 3 ? 'docs' : 'memory',
  method: 'tools/call',
  tool: 'search',
  durationMs: i,
  ok: true,
  at: 1_000_000 + i,
  ...extra,
});

test('entries survive close and reopen, newest first, fields intact', async (t) => {
  const file = join(tempDir(t), 'harbor.db');
  const log = new AuditLog(file, { flushIntervalMs: 3_600_000 });
  log.record(call(1));
  log.record({ teammate: 'ana', server: 'docs', method: 'initialize', durationMs: 2.5, ok: true, at: 1_000_002 });
  log.record({ ...call(3), ok: false, error: 'upstream exited' });
  assert.equal(log.pending, 3);
  await log.close();

  const reopened = new AuditLog(file, { now: () => 1_000_010 });
  t.after(() => reopened.close());
  const entries = await reopened.query({ limit: 10 });
  assert.equal(entries.length, 3);
  assert.deepEqual(
    entries.map(({ id: _id, ...rest }) => rest),
    [
      { ...call(3), ok: false, error: 'upstream exited' },
      { teammate: 'ana', server: 'docs', method: 'initialize', durationMs: 2.5, ok: true, at: 1_000_002 },
      call(1),
    ],
  );
});

test('the table stays within maxRows and keeps the newest', async (t) => {
  const file = join(tempDir(t), 'harbor.db');
  const log = new AuditLog(file, { maxRows: 100, batchSize: 30, flushIntervalMs: 3_600_000, now: () => 1_000_000 });
  for (let i = 0; i < 1000; i++) log.record(call(i));
  await log.flush();
  assert.ok((await log.store.count()) <= 100);
  const entries = await log.query({ limit: 1000 });
  assert.equal(entries.length, 100);
  assert.deepEqual(
    entries.map((e) => e.durationMs),
    Array.from({ length: 100 }, (_, k) => 999 - k),
  );
  await log.close();
});

test('entries older than maxAgeMs are pruned, also on reopen', async (t) => {
  const file = join(tempDir(t), 'harbor.db');
  let now = 10 * 86_400_000;
  const log = new AuditLog(file, { maxAgeMs: 86_400_000, now: () => now });
  log.record(call(1, { at: now - 2 * 86_400_000 }));
  log.record(call(2, { at: now - 1000 }));
  await log.flush();
  assert.equal(await log.store.count(), 2);
  assert.equal(await log.prune(), 1);
  assert.deepEqual((await log.query()).map((e) => e.durationMs), [2]);
  await log.close();

  now += 2 * 86_400_000;
  const reopened = new AuditLog(file, { maxAgeMs: 86_400_000, now: () => now });
  t.after(() => reopened.close());
  assert.deepEqual(await reopened.query(), []);
});

test('query filters by teammate and server, pages with before, clamps limit', async (t) => {
  const file = join(tempDir(t), 'harbor.db');
  const log = new AuditLog(file, { now: () => 1_000_000 });
  t.after(() => log.close());
  for (let i = 0; i < 60; i++) log.record(call(i));

  const ana = await log.query({ teammate: 'ana', limit: 1000 });
  assert.equal(ana.length, 30);
  assert.ok(ana.every((e) => e.teammate === 'ana'));

  const memory = await log.query({ server: 'memory', limit: 1000 });
  assert.equal(memory.length, 20);
  assert.ok(memory.every((e) => e.server === 'memory'));

  const both = await log.query({ teammate: 'ana', server: 'memory', limit: 1000 });
  assert.deepEqual(both.map((e) => e.durationMs), [57, 51, 45, 39, 33, 27, 21, 15, 9, 3]);

  const first = await log.query({ teammate: 'ana', limit: 4 });
  assert.deepEqual(first.map((e) => e.durationMs), [59, 57, 55, 53]);
  const next = await log.query({ teammate: 'ana', limit: 4, before: first.at(-1)!.at });
  assert.deepEqual(next.map((e) => e.durationMs), [51, 49, 47, 45]);

  assert.equal((await log.query({ limit: 0 })).length, 1);
  assert.equal((await log.query({})).length, 60);
});

test('writes in batches: by size, and by timer', async (t) => {
  const file = join(tempDir(t), 'harbor.db');
  const bySize = new AuditLog(file, { batchSize: 5, flushIntervalMs: 3_600_000 });
  t.after(() => bySize.close());
  for (let i = 0; i < 4; i++) bySize.record(call(i));
  await sleep(20);
  assert.equal(await bySize.store.count(), 0, 'below the batch size nothing is written yet');
  bySize.record(call(4));
  await eventually(async () => (await bySize.store.count()) === 5, 'a full batch to be written');

  const byTimer = new AuditLog(join(tempDir(t), 'other.db'), { batchSize: 500, flushIntervalMs: 20 });
  t.after(() => byTimer.close());
  byTimer.record(call(1));
  await eventually(async () => (await byTimer.store.count()) === 1, 'the flush timer');
  assert.equal(byTimer.pending, 0);
});

test('a database handed in stays open for its owner; store failures keep a bounded backlog, never thrown at callers', async (t) => {
  const db = openDatabase(join(tempDir(t), 'harbor.db'));
  const log = new AuditLog(db, { maxPending: 10, batchSize: 10, flushIntervalMs: 3_600_000 });
  log.record(call(1, { at: Date.now() }));
  await log.flush();
  assert.ok(log.store instanceof SqliteAuditStore);

  db.close(); // the disk goes away under the log
  for (let i = 0; i < 5; i++) log.record(call(i));
  await assert.rejects(log.flush(), 'an explicit flush reports the failure');
  assert.equal(log.pending, 5, 'kept for the retry');
  assert.equal(log.dropped, 0);
  // Beyond maxPending the oldest go at once; no write is attempted per call while failing.
  for (let i = 0; i < 25; i++) log.record(call(i));
  assert.equal(log.pending, 10);
  assert.equal(log.dropped, 20);
  assert.deepEqual(await log.query().catch(() => 'rejected'), 'rejected');
  await log.close(); // finishes although the store still fails: the backlog is counted as lost
  assert.equal(log.pending, 0);
  assert.equal(log.dropped, 30);
  log.record(call(99));
  assert.equal(log.dropped, 31);

  const db2 = openDatabase(db.name);
  const log2 = new AuditLog(db2);
  assert.equal((await log2.query()).length, 1);
  await log2.close();
  assert.equal(db2.open, true, 'the caller owns the database');
  db2.close();
});

test('a backlog kept through failed writes is written by the retry timer once the store works again', async () => {
  let failing = true;
  const rows: AuditEntry[] = [];
  const store = {
    async append(entries: readonly AuditEntry[]) {
      if (failing) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      rows.push(...entries);
    },
    async query() {
      return [];
    },
    async connections() {
      return [];
    },
    async prune() {
      return 0;
    },
    async count() {
      return rows.length;
    },
    async close() {},
  };
  const log = new AuditLog(store, { batchSize: 50, flushIntervalMs: 5, retry: { initialMs: 5, factor: 2, maxMs: 20, resetAfterMs: 0 } });
  for (let i = 0; i < 272; i++) log.record(call(i));
  await eventually(() => log.pending === 272 && rows.length === 0, 'the failed writes');
  failing = false;
  await eventually(() => rows.length === 272, 'the retry to write the backlog');
  assert.deepEqual(rows.map((r) => r.durationMs), Array.from({ length: 272 }, (_, i) => i), 'in order, none twice');
  assert.equal(log.dropped, 0);
  await log.close();
});

test('long error texts are clipped', async (t) => {
  const log = new AuditLog(join(tempDir(t), 'harbor.db'));
  t.after(() => log.close());
  log.record(call(1, { ok: false, error: 'x'.repeat(10_000) }));
  const [entry] = await log.query();
  assert.equal(entry?.error?.length, 1000);
});
