import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditLog } from '../../server/access/audit-log.ts';
import type { AuditEntry } from '../../server/access/audit-store.ts';
import { describeEachBackend } from './store-backends.ts';

const entry = (at: number, teammate: string, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  at,
  teammate,
  server: 'fs',
  method: 'tools/call',
  tool: 'read',
  durationMs: 1.5,
  ok: true,
  ...extra,
});

describeEachBackend('audit store', (backend) => {
  test('appends in batches, answers newest first with filters and paging, and stamps the replica', async (t) => {
    const site = await backend.fresh(t);
    const store = await site.open('replica-a');
    await store.audit.append([entry(1, 'alice'), entry(2, 'bob', { server: 'git', tool: undefined, method: 'resources/read' }), entry(3, 'alice', { ok: false, error: 'boom' })]);
    await store.audit.append([]);
    assert.equal(await store.audit.count(), 3);
    const all = await store.audit.query({});
    assert.deepEqual(all.map((e) => e.at), [3, 2, 1]);
    assert.deepEqual(
      { ...all[0], id: 0 },
      { id: 0, at: 3, teammate: 'alice', server: 'fs', method: 'tools/call', tool: 'read', durationMs: 1.5, ok: false, error: 'boom', replica: 'replica-a' },
    );
    assert.equal(all[1]!.tool, undefined, 'absent tool stays absent');
    assert.deepEqual((await store.audit.query({ teammate: 'alice' })).map((e) => e.at), [3, 1]);
    assert.deepEqual((await store.audit.query({ server: 'git' })).map((e) => e.teammate), ['bob']);
    assert.deepEqual((await store.audit.query({ before: 3, limit: 1 })).map((e) => e.at), [2]);
    assert.ok(all[0]!.id > all[2]!.id, 'ids grow with insertion');
  });

  test('prunes by age and by row bound', async (t) => {
    const site = await backend.fresh(t);
    const store = await site.open();
    await store.audit.append(Array.from({ length: 50 }, (_, i) => entry(i + 1, 'alice')));
    assert.equal(await store.audit.prune({ olderThan: 11 }), 10);
    assert.equal(await store.audit.prune({ maxRows: 15 }), 25);
    const left = await store.audit.query({ limit: 1000 });
    assert.deepEqual([left.length, left.at(0)?.at, left.at(-1)?.at], [15, 50, 36]);
  });

  test('the AuditLog over it: replicas write one log, each row naming who served it, kept across reopening', async (t) => {
    const site = await backend.fresh(t);
    const a = await site.open('replica-a');
    const logA = new AuditLog(a.audit, { flushIntervalMs: 3_600_000 });
    logA.record({ teammate: 'alice', server: 'fs', method: 'tools/call', durationMs: 2, ok: true, at: Date.now() - 1000 });
    await logA.close();
    await a.close();
    const b = await site.open('replica-b');
    const logB = new AuditLog(b.audit, { flushIntervalMs: 3_600_000 });
    logB.record({ teammate: 'bob', server: 'fs', method: 'tools/call', durationMs: 2, ok: true, at: Date.now() });
    const rows = await logB.query({});
    assert.deepEqual(rows.map((r) => [r.teammate, r.replica]), [['bob', 'replica-b'], ['alice', 'replica-a']]);
    await logB.close();
  });
});
