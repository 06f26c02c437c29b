import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../server/open-store.ts';
import { openPostgres } from '../../server/store/postgres-database.ts';
import { defaultReplicaUrl, PgReplicaDirectory } from '../../server/store/postgres/pg-replica-directory.ts';
import { waitFor } from '../helpers/harbor.ts';
import { describeEachBackend } from './store-backends.ts';

// What replicas share to finish each other's 2026-07-28 continuations: the requestState key and the
// directory of where each replica can be reached (server/modern/continuation-forward.ts).
const ENV_SECRET = 'an operator-chosen key of 32 chars or more';

describeEachBackend('replica coordination', (backend) => {
  if (backend.name === 'sqlite') {
    test('one host: no directory, no shared key (random per process) unless HARBOR_STATE_SECRET is set', async (t) => {
      const site = await backend.fresh(t);
      const store = await site.open();
      assert.equal(store.replicas, null);
      assert.equal(store.stateSecret, null);
      const keyed = await openStore({ paths: site.paths, env: { HARBOR_STATE_SECRET: ENV_SECRET } });
      assert.equal(keyed.stateSecret?.toString(), ENV_SECRET);
      await keyed.close();
      await assert.rejects(openStore({ paths: site.paths, env: { HARBOR_STATE_SECRET: 'short' } }), /HARBOR_STATE_SECRET must be at least 32 characters/);
    });
    return;
  }

  test('two replicas on one database share one requestState key, made once; HARBOR_STATE_SECRET wins over it', async (t) => {
    const site = await backend.fresh(t);
    const [a, b] = await Promise.all([site.open('replica-a'), site.open('replica-b')]);
    assert.equal(a.stateSecret?.length, 32);
    assert.deepEqual(a.stateSecret, b.stateSecret, 'replicas starting together agree on one key');
    const later = await site.open('replica-c');
    assert.deepEqual(later.stateSecret, a.stateSecret);
    const keyed = await openStore({ paths: site.paths, env: { ...site.env, HARBOR_STATE_SECRET: ENV_SECRET }, replica: 'replica-d' });
    assert.equal(keyed.stateSecret?.toString(), ENV_SECRET);
    await keyed.close();
  });

  test('the directory: each replica finds the others by name; one that closes is gone at once', async (t) => {
    const site = await backend.fresh(t);
    const a = await site.open('replica-a');
    const b = await site.open('replica-b');
    await a.replicas!.register('http://harbor-1:7837');
    await b.replicas!.register('http://harbor-2:7837');
    assert.equal(await b.replicas!.urlOf('replica-a'), 'http://harbor-1:7837');
    assert.equal(await a.replicas!.urlOf('replica-b'), 'http://harbor-2:7837');
    assert.equal(await a.replicas!.urlOf('replica-z'), null);
    // A restarted replica re-registers under its name with its new address.
    await a.replicas!.register('http://10.0.0.7:7837');
    assert.equal(await b.replicas!.urlOf('replica-a'), 'http://10.0.0.7:7837');
    await a.close();
    assert.equal(await b.replicas!.urlOf('replica-a'), null);
  });

  test('a replica that stops beating (died) expires from the directory; beating again brings it back', async (t) => {
    const site = await backend.fresh(t);
    const pool = openPostgres(site.url!);
    t.after(() => pool.end());
    // Beats far apart, a short expiry: only the first beat is written, then the row ages out.
    const dying = await PgReplicaDirectory.open(pool, { replica: 'replica-a', heartbeatMs: 3_600_000, expiryMs: 300 });
    const reader = await PgReplicaDirectory.open(pool, { replica: 'replica-b', expiryMs: 300 });
    await dying.register('http://harbor-1:7837');
    assert.equal(await reader.urlOf('replica-a'), 'http://harbor-1:7837');
    await waitFor(async () => (await reader.urlOf('replica-a')) === null, 10_000, 'the silent replica to expire');
    await dying.register('http://harbor-1:7837');
    assert.equal(await reader.urlOf('replica-a'), 'http://harbor-1:7837');
    await dying.close();
  });
});

test('the default address of a replica: its bind address, or the host name when bound to every interface', () => {
  assert.equal(defaultReplicaUrl('127.0.0.1', 4100, 'box'), 'http://127.0.0.1:4100');
  assert.equal(defaultReplicaUrl('0.0.0.0', 7837, 'harbor-1'), 'http://harbor-1:7837');
  assert.equal(defaultReplicaUrl('::', 7837, 'harbor-1'), 'http://harbor-1:7837');
  assert.equal(defaultReplicaUrl('::1', 7837, 'x'), 'http://[::1]:7837');
});
