/**
 * BoundedCache depends on the CacheStore interface only: any store handed in (here a Map-backed one,
 * standing in for PostgreSQL) is the disk layer, opened with the cache's namespace, bound and logger.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBoundedCache } from '../../server/cache/bounded-cache.ts';
import { entrySize, type CacheStore, type CacheStoreOpenOptions, type StoredEntry } from '../../server/cache/cache-store.ts';
import { bufferCodec } from '../../server/cache/value-codecs.ts';
import { silentLogger } from '../../server/logger.ts';

function mapStore(opened: CacheStoreOpenOptions[]): (options: CacheStoreOpenOptions) => Promise<CacheStore> {
  const rows = new Map<string, StoredEntry & { accessedAt: number }>();
  return async (options) => {
    opened.push(options);
    const bytes = () => [...rows].reduce((sum, [key, row]) => sum + entrySize(key, row.value), 0);
    return {
      description: `map:${options.namespace}`,
      get: async (key) => rows.get(key),
      write: async (batch) => {
        for (const op of batch.sets) rows.set(op.key, { value: op.value, expiresAt: op.expiresAt, accessedAt: op.accessedAt });
        for (const key of batch.deletes) rows.delete(key);
        for (const [key, at] of batch.touches) if (rows.has(key)) rows.get(key)!.accessedAt = at;
        let evicted = 0;
        while (bytes() > options.maxBytes) {
          const oldest = [...rows].sort((a, b) => a[1].accessedAt - b[1].accessedAt)[0]![0];
          rows.delete(oldest);
          evicted++;
        }
        return { evicted };
      },
      sweepExpired: async () => 0,
      clear: async () => rows.clear(),
      usage: () => ({ bytes: bytes(), entries: rows.size, maxAccessedAt: Math.max(0, ...[...rows.values()].map((r) => r.accessedAt)) }),
      check: async () => {},
      close: async () => {},
    };
  };
}

test('an injected store is the disk layer: values evicted from memory come back from it', async () => {
  const opened: CacheStoreOpenOptions[] = [];
  const value = Buffer.alloc(1000, 7);
  const perEntry = value.length + 2 + 96; // one-character keys, see MEMORY_ENTRY_OVERHEAD
  const cache = await openBoundedCache<Buffer>({
    store: mapStore(opened),
    namespace: 'seam',
    maxMemoryBytes: 2 * perEntry,
    maxDiskBytes: 1 << 20,
    codec: bufferCodec,
    logger: silentLogger,
  });
  try {
    for (const key of ['a', 'b', 'c', 'd']) await cache.set(key, value);
    await cache.flush();
    assert.equal(opened.length, 1);
    assert.equal(opened[0]!.namespace, 'seam');
    assert.equal(opened[0]!.maxBytes, 1 << 20);
    assert.ok(opened[0]!.logger, 'the store gets the cache logger');
    const stats = cache.stats();
    assert.equal(stats.persistent, true);
    assert.equal(stats.entries.memory, 2);
    assert.equal(stats.entries.disk, 4);
    assert.deepEqual(await cache.get('a'), value);
    assert.equal(cache.stats().hits.disk, 1);
  } finally {
    await cache.close();
  }
});
