import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBoundedCache } from '../../server/cache/bounded-cache.ts';
import { entrySize } from '../../server/cache/cache-store.ts';
import { bufferCodec } from '../../server/cache/value-codecs.ts';
import { openPostgres } from '../../server/store/postgres-database.ts';
import { describeEachBackend } from './store-backends.ts';

const KIB = 1024;
const value = (n: number) => Buffer.alloc(KIB, n % 256);

describeEachBackend('cache store', (backend) => {
  test('the disk layer keeps to its byte bound, evicting the least recently used, and survives reopening', async (t) => {
    const site = await backend.fresh(t);
    const store = await site.open();
    const maxDiskBytes = 20 * KIB;
    const cacheOptions = { store: store.cache, namespace: 'bound', maxMemoryBytes: 4 * KIB, maxDiskBytes, codec: bufferCodec };
    const cache = await openBoundedCache<Buffer>(cacheOptions);
    for (let i = 0; i < 60; i++) {
      cache.set(`k${i}`, value(i));
      if (i % 10 === 9) await cache.flush();
    }
    await cache.flush();
    const stats = cache.stats();
    assert.ok(stats.bytes.disk <= maxDiskBytes, `disk ${stats.bytes.disk} <= ${maxDiskBytes}`);
    assert.ok(stats.bytes.disk > maxDiskBytes - 2 * entrySize('k59', value(59)), `disk is filled close to the bound (${stats.bytes.disk})`);
    assert.ok(stats.evictions.disk >= 40, `evicted ${stats.evictions.disk}`);
    await cache.close();
    await store.close();

    const reopened = await site.open();
    const again = await openBoundedCache<Buffer>({ ...cacheOptions, store: reopened.cache });
    assert.deepEqual(await again.get('k59'), value(59), 'the newest survives');
    assert.equal(await again.get('k1'), undefined, 'the oldest went');
    assert.ok(again.stats().bytes.disk <= maxDiskBytes);
    await again.close();
  });

  test('expired entries are misses and are swept; clear empties only its namespace', async (t) => {
    const site = await backend.fresh(t);
    const store = await site.open();
    let now = 1_000_000;
    const clock = () => now;
    const ttl = await openBoundedCache<string>({ store: store.cache, namespace: 'ttl', maxMemoryBytes: 64 * KIB, ttlMs: 1000, clock, sweepIntervalMs: 0 });
    const other = await openBoundedCache<string>({ store: store.cache, namespace: 'other', maxMemoryBytes: 64 * KIB });
    ttl.set('a', 'x');
    other.set('a', 'y');
    await Promise.all([ttl.flush(), other.flush()]);
    now += 1001;
    assert.equal(await ttl.get('a'), undefined);
    await ttl.flush();
    assert.equal(ttl.stats().entries.disk, 0);
    await other.clear();
    ttl.set('b', 'z');
    await ttl.flush();
    assert.equal(other.stats().entries.disk, 0);
    assert.equal(ttl.stats().entries.disk, 1);
    await Promise.all([ttl.close(), other.close()]);
  });

  test('shared by replicas: a value cached through one is a hit on the other, and writers together stay in the bound', { skip: backend.name === 'sqlite' ? 'one SQLite file serves one host' : false }, async (t) => {
    const site = await backend.fresh(t);
    const a = await site.open('replica-a');
    const b = await site.open('replica-b');
    const maxDiskBytes = 16 * KIB;
    const options = { namespace: 'tools', maxMemoryBytes: 64 * KIB, maxDiskBytes, codec: bufferCodec };
    const cacheA = await openBoundedCache<Buffer>({ ...options, store: a.cache });
    const cacheB = await openBoundedCache<Buffer>({ ...options, store: b.cache });
    cacheA.set('result', value(7));
    await cacheA.flush();
    assert.deepEqual(await cacheB.get('result'), value(7));
    assert.equal(cacheB.stats().hits.disk, 1, 'a disk (shared) hit on B');
    // Both write at once, in batches: the advisory lock makes each commit evict against the shared total.
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 8; i++) {
        cacheA.set(`a${round}-${i}`, value(i));
        cacheB.set(`b${round}-${i}`, value(i));
      }
      await Promise.all([cacheA.flush(), cacheB.flush()]);
    }
    const pool = openPostgres(site.url!, { max: 1 });
    t.after(() => pool.end());
    const { rows } = await pool.query<{ bytes: number; entries: number }>("SELECT sum(size)::bigint AS bytes, count(*)::bigint AS entries FROM cache_entries WHERE ns = 'tools'");
    assert.ok(rows[0]!.bytes <= maxDiskBytes, `shared table holds ${rows[0]!.bytes} <= ${maxDiskBytes} bytes`);
    assert.ok(rows[0]!.entries >= 10, `and is used (${rows[0]!.entries} entries)`);
    await Promise.all([cacheA.close(), cacheB.close()]);
  });
});
