import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openBoundedCache } from '../../server/cache/bounded-cache.ts';
import { sqliteCacheStoreFactory } from '../../server/cache/sqlite-cache-store.ts';
import { bufferCodec } from '../../server/cache/value-codecs.ts';

const dir = mkdtempSync(join(tmpdir(), 'harbor-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;
const freshFile = () => join(dir, `cache-${++fileCounter}.db`);

function diskRows(file: string, namespace: string): { keys: string[]; bytes: number } {
  const db = new Database(file, { readonly: true });
  try {
    const keys = (db.prepare('SELECT key FROM cache_entries WHERE ns = ? ORDER BY key').pluck().all(namespace) as string[]);
    const bytes = db.prepare('SELECT COALESCE(SUM(size), 0) FROM cache_entries WHERE ns = ?').pluck().get(namespace) as number;
    return { keys, bytes };
  } finally {
    db.close();
  }
}

function filesBytes(file: string): number {
  let total = 0;
  for (const suffix of ['', '-wal']) if (existsSync(file + suffix)) total += statSync(file + suffix).size;
  return total;
}

describe('BoundedCache', () => {
  test('never exceeds its memory and disk byte bounds while 10x its size is written', async () => {
    const file = freshFile();
    const maxMemoryBytes = 64 * 1024;
    const maxDiskBytes = 256 * 1024;
    const cache = await openBoundedCache<Buffer>({ store: sqliteCacheStoreFactory({ file }), namespace: 'bound', maxMemoryBytes, maxDiskBytes, codec: bufferCodec });
    const valueSize = 1024;
    const writes = Math.ceil((10 * maxDiskBytes) / valueSize);
    let peakFiles = 0;
    for (let i = 0; i < writes; i++) {
      cache.set(`key-${i}`, randomBytes(valueSize));
      assert.ok(cache.stats().bytes.memory <= maxMemoryBytes, `memory ${cache.stats().bytes.memory} > ${maxMemoryBytes}`);
      if (i % 128 === 127) {
        await cache.flush();
        const { bytes } = diskRows(file, 'bound');
        assert.ok(bytes <= maxDiskBytes, `disk rows ${bytes} > ${maxDiskBytes}`);
        assert.equal(cache.stats().bytes.disk, bytes, 'running total matches the table');
        peakFiles = Math.max(peakFiles, filesBytes(file));
      }
    }
    await cache.flush();
    const stats = cache.stats();
    assert.ok(stats.evictions.memory > 0 && stats.evictions.disk > 0, 'both layers evicted');
    assert.ok(diskRows(file, 'bound').bytes <= maxDiskBytes);
    // Pages, indexes and the WAL cost extra, but the files stay within a small multiple of the bound.
    assert.ok(peakFiles <= 2 * maxDiskBytes + 256 * 1024, `files reached ${peakFiles} bytes`);
    // The newest entries survive, the oldest are gone.
    assert.ok(await cache.get(`key-${writes - 1}`));
    assert.equal(await cache.get('key-0'), undefined);
    await cache.close();
  });

  test('evicts the least recently used entries from disk', async () => {
    const file = freshFile();
    const value = Buffer.alloc(100, 7);
    const keys = Array.from({ length: 13 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    // Memory too small to hold anything, so every read goes to disk and updates its recency there.
    const cache = await openBoundedCache<Buffer>({
      store: sqliteCacheStoreFactory({ file }),
      namespace: 'lru',
      maxMemoryBytes: 1,
      maxDiskBytes: 10 * (3 + value.length),
      codec: bufferCodec,
    });
    for (const key of keys.slice(0, 10)) cache.set(key, value);
    await cache.flush();
    for (const key of ['k00', 'k01', 'k02']) assert.ok(await cache.get(key));
    await cache.flush();
    for (const key of keys.slice(10)) cache.set(key, value);
    await cache.flush();
    const { keys: left } = diskRows(file, 'lru');
    assert.deepEqual(left, ['k00', 'k01', 'k02', 'k06', 'k07', 'k08', 'k09', 'k10', 'k11', 'k12']);
    assert.equal(cache.stats().evictions.disk, 3);
    await cache.close();
  });

  test('evicts the least recently used entries from memory', async () => {
    const value = Buffer.alloc(100);
    const perEntry = value.length + 2 * 2 + 96;
    const cache = await openBoundedCache<Buffer>({ namespace: 'mem', maxMemoryBytes: 3 * perEntry, codec: bufferCodec });
    cache.set('k1', value);
    cache.set('k2', value);
    cache.set('k3', value);
    assert.ok(await cache.get('k1'));
    cache.set('k4', value);
    assert.equal(await cache.get('k2'), undefined, 'k2 was least recently used');
    for (const key of ['k1', 'k3', 'k4']) assert.ok(await cache.get(key), key);
    assert.equal(cache.stats().evictions.memory, 1);
    await cache.close();
  });

  test('entries expire after their TTL in memory and on disk', async () => {
    const file = freshFile();
    let now = 1_700_000_000_000;
    const clock = () => now;
    const options = { store: sqliteCacheStoreFactory({ file }), namespace: 'ttl', maxMemoryBytes: 1 << 20, ttlMs: 1_000, clock, sweepIntervalMs: 0 };
    const cache = await openBoundedCache<string>(options);
    cache.set('default', 'a');
    cache.set('forever', 'b', { ttlMs: 0 });
    cache.set('long', 'c', { ttlMs: 5_000 });
    await cache.flush();
    now += 1_500;
    assert.equal(await cache.get('default'), undefined);
    assert.equal(await cache.get('forever'), 'b');
    assert.equal(await cache.get('long'), 'c');
    await cache.close();

    // A fresh process sees the same expiry from disk alone.
    const reopened = await openBoundedCache<string>(options);
    assert.equal(await reopened.get('default'), undefined);
    assert.equal(await reopened.get('long'), 'c');
    assert.equal(reopened.stats().hits.disk, 1);
    now += 5_000;
    assert.equal(await reopened.get('long'), undefined, 'expired in memory too');
    assert.equal(await reopened.get('forever'), 'b');
    reopened.set('trigger-sweep', 'x');
    await reopened.flush();
    assert.deepEqual(diskRows(file, 'ttl').keys, ['forever', 'trigger-sweep']);
    await reopened.close();
  });

  test('a reopened cache keeps its entries', async () => {
    const file = freshFile();
    const first = await openBoundedCache<{ n: number }>({ store: sqliteCacheStoreFactory({ file }), namespace: 'keep', maxMemoryBytes: 1 << 20 });
    for (let i = 0; i < 50; i++) first.set(`k${i}`, { n: i });
    await first.close();
    const second = await openBoundedCache<{ n: number }>({ store: sqliteCacheStoreFactory({ file }), namespace: 'keep', maxMemoryBytes: 1 << 20 });
    for (let i = 0; i < 50; i++) assert.deepEqual(await second.get(`k${i}`), { n: i });
    const stats = second.stats();
    assert.equal(stats.hits.disk, 50);
    assert.equal(stats.entries.disk, 50);
    assert.deepEqual(await second.get('k0'), { n: 0 });
    assert.equal(second.stats().hits.memory, 1, 'second read of a key comes from memory');
    await second.close();
  });

  test('namespaces sharing one file stay apart', async () => {
    const file = freshFile();
    const a = await openBoundedCache<string>({ store: sqliteCacheStoreFactory({ file }), namespace: 'a', maxMemoryBytes: 1 << 20 });
    const b = await openBoundedCache<string>({ store: sqliteCacheStoreFactory({ file }), namespace: 'b', maxMemoryBytes: 1 << 20 });
    a.set('same', 'from a');
    b.set('same', 'from b');
    await Promise.all([a.flush(), b.flush()]);
    await a.clear();
    assert.equal(await a.get('same'), undefined);
    assert.equal(await b.get('same'), 'from b');
    assert.deepEqual(diskRows(file, 'b').keys, ['same']);
    assert.deepEqual(diskRows(file, 'a').keys, []);
    await Promise.all([a.close(), b.close()]);
  });

  test('a value returned or stored cannot be changed through the caller’s reference', async () => {
    const cache = await openBoundedCache<Buffer>({ namespace: 'copy', maxMemoryBytes: 1 << 20, codec: bufferCodec });
    const original = Buffer.from('hello');
    cache.set('k', original);
    original.fill(0);
    const got = (await cache.get('k'))!;
    got.fill(1);
    assert.equal((await cache.get('k'))!.toString(), 'hello');
    await cache.close();
  });
});
