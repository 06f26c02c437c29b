import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditLog } from '../../server/access/audit-log.ts';
import type { AuditEntry } from '../../server/access/audit-store.ts';
import { AUDIT_MIGRATIONS } from '../../server/access/sqlite-audit-store.ts';
import { PG_AUDIT_MIGRATIONS } from '../../server/store/postgres/pg-audit-store.ts';
import { describeEachBackend, writeAtSchema, type StoreSite } from './store-backends.ts';

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

  test('records how each call was authenticated and sums it per teammate and way in, newest first', async (t) => {
    const site = await backend.fresh(t);
    const store = await site.open();
    const token = { kind: 'token', token: 'alice' } as const;
    const claude = { kind: 'sign-in', client: 'Claude Code' } as const;
    await store.audit.append([
      entry(1, 'alice', { via: token }),
      entry(2, 'alice', { via: claude }),
      entry(3, 'bob', { via: { kind: 'sign-in', client: 'Cursor' } }),
      entry(4, 'alice', { via: token }),
      entry(5, 'carol'),
    ]);
    const rows = await store.audit.query({});
    assert.deepEqual(rows.map((e) => e.via ?? null), [null, token, { kind: 'sign-in', client: 'Cursor' }, claude, token]);
    assert.deepEqual(await store.audit.connections(), [
      { teammate: 'alice', via: token, lastAt: 4, calls: 2 },
      { teammate: 'bob', via: { kind: 'sign-in', client: 'Cursor' }, lastAt: 3, calls: 1 },
      { teammate: 'alice', via: claude, lastAt: 2, calls: 1 },
    ]);
  });

  test('a database written before via was recorded is migrated: its rows kept whole, new rows carry via', async (t) => {
    const site = await backend.fresh(t);
    await writeOldLog(site);
    const store = await site.open('replica-b');
    const log = new AuditLog(store.audit, { flushIntervalMs: 3_600_000 });
    log.record({ teammate: 'bob', server: 'fs', method: 'tools/call', durationMs: 3, ok: true, at: Date.now(), via: { kind: 'sign-in', client: 'x'.repeat(300) } });
    const [fresh, old] = await log.query({});
    assert.deepEqual({ ...old, id: 0 }, { id: 0, at: old!.at, teammate: 'alice', server: 'git', method: 'tools/call', tool: 'log', durationMs: 7, ok: false, error: 'old boom', replica: 'replica-a' });
    assert.equal(fresh!.via?.kind, 'sign-in');
    assert.equal((fresh!.via as { client: string }).client.length, 256, 'a client-chosen name is clipped like every name');
    assert.deepEqual((await log.connections()).map((c) => c.teammate), ['bob'], 'rows from before say nothing about how they connected');
    await log.close();
  });
});

/** An audit log as the previous schema left it (every step but the last), with one row in it. */
function writeOldLog(site: StoreSite): Promise<void> {
  const row = [Date.now() - 1000, 'alice', 'git', 'tools/call', 'log', 7, 0, 'old boom', 'replica-a'];
  const schema = { component: 'audit-log', sqlite: AUDIT_MIGRATIONS.slice(0, -1), postgres: PG_AUDIT_MIGRATIONS.slice(0, -1) };
  return writeAtSchema(site, schema, 'INSERT INTO audit_log (at, teammate, server, method, tool, duration_ms, ok, error, replica)', row);
}
