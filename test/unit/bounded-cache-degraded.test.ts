import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { openBoundedCache, type BoundedCache, type DegradedState } from '../../server/cache/bounded-cache.ts';
import { sqliteCacheStoreFactory } from '../../server/cache/sqlite-cache-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'harbor-cache-degraded-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;
const freshFile = () => join(dir, `cache-${++fileCounter}.db`);

function capturingLogger() {
  const lines: Array<{ level: number; msg: string; [field: string]: unknown }> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

function keysOnDisk(file: string, namespace: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT key FROM cache_entries WHERE ns = ? ORDER BY key').pluck().all(namespace) as string[];
  } finally {
    db.close();
  }
}

/** Waits for an event, failing (not hanging) after a bound. */
async function waitFor<T extends unknown[]>(cache: BoundedCache<string>, event: 'degraded' | 'recovered', ms = 5_000) {
  return (await once(cache, event, { signal: AbortSignal.timeout(ms) })) as T;
}

function removeDatabase(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
}

const fastRecovery = { maxMemoryBytes: 1 << 20, checkIntervalMs: 0, rebuildDelayMs: 50, flushDelayMs: 1 };

describe('BoundedCache when the database fails', () => {
  test('a deleted database file is reported, the cache serves from memory, then rebuilds the file', async () => {
    const file = freshFile();
    const { logger, lines } = capturingLogger();
    const cache = await openBoundedCache<string>({ store: sqliteCacheStoreFactory({ file }), namespace: 'del', logger, ...fastRecovery });
    cache.set('before', 'kept in memory');
    await cache.flush();
    const degraded = waitFor<[DegradedState]>(cache, 'degraded');
    const recovered = waitFor(cache, 'recovered');
    removeDatabase(file);

    cache.set('during', 'written while degraded');
    await cache.flush();
    const [state] = await degraded;
    assert.equal(state.kind, 'missing');
    assert.equal(cache.degraded?.kind, 'missing');
    assert.ok(lines.some((l) => l.level >= 50 && /memory only/.test(l.msg) && l.cache === 'del'), 'logged as an error');
    // Reads and writes carry on in memory and never throw.
    assert.equal(await cache.get('before'), 'kept in memory');
    assert.equal(await cache.get('during'), 'written while degraded');
    cache.set('also', 'fine');
    assert.equal(await cache.get('also'), 'fine');

    await recovered;
    assert.equal(cache.degraded, null);
    assert.ok(existsSync(file), 'file recreated');
    await cache.flush();
    // What memory held was written to the new file, so it survives a restart.
    assert.deepEqual(keysOnDisk(file, 'del'), ['also', 'before', 'during']);
    await cache.close();
  });

  test('garbage written into the open database file is reported and the file is rebuilt', async () => {
    const file = freshFile();
    const { logger, lines } = capturingLogger();
    const cache = await openBoundedCache<string>({ store: sqliteCacheStoreFactory({ file }), namespace: 'garbage', logger, ...fastRecovery });
    for (let i = 0; i < 20; i++) cache.set(`k${i}`, `v${i}`);
    await cache.flush();
    const degraded = waitFor<[DegradedState]>(cache, 'degraded');
    const recovered = waitFor(cache, 'recovered');
    writeFileSync(file, Buffer.alloc(statSync(file).size, 0x5a));

    cache.set('next', 'write');
    await cache.flush();
    const [state] = await degraded;
    assert.equal(state.kind, 'corrupt');
    assert.ok(lines.some((l) => l.level >= 50 && l.kind === 'corrupt'));
    assert.equal(await cache.get('k3'), 'v3', 'memory still serves');

    await recovered;
    await cache.flush();
    assert.equal(readFileSync(file).subarray(0, 15).toString('latin1'), 'SQLite format 3', 'a valid database again');
    assert.ok(keysOnDisk(file, 'garbage').includes('next'));
    await cache.close();
  });

  test('a database corrupted while closed is recreated on the next open', async () => {
    const file = freshFile();
    const first = await openBoundedCache<string>({ store: sqliteCacheStoreFactory({ file }), namespace: 'reopen', maxMemoryBytes: 1 << 20 });
    first.set('old', 'value');
    await first.close();
    writeFileSync(file, Buffer.from('this is not a database at all, just some garbage bytes'.repeat(100)));

    const { logger, lines } = capturingLogger();
    const second = await openBoundedCache<string>({ store: sqliteCacheStoreFactory({ file }), namespace: 'reopen', maxMemoryBytes: 1 << 20, logger });
    assert.equal(second.degraded, null);
    assert.ok(lines.some((l) => /corrupt/.test(l.msg)), 'logged');
    assert.equal(await second.get('old'), undefined, 'old content is gone');
    second.set('new', 'value');
    await second.close();
    assert.deepEqual(keysOnDisk(file, 'reopen'), ['new']);
  });

  test('a database that cannot be opened leaves a working memory-only cache', async () => {
    // A directory where the file should be: SQLite cannot open it, and the cache must not throw.
    const { logger } = capturingLogger();
    const cache = await openBoundedCache<string>({ store: sqliteCacheStoreFactory({ file: dir }), namespace: 'unopenable', logger, maxMemoryBytes: 1 << 20, rebuildDelayMs: 60_000 });
    assert.ok(cache.degraded, 'degraded from the start');
    cache.set('k', 'v');
    assert.equal(await cache.get('k'), 'v');
    await cache.flush();
    assert.equal(cache.stats().persistent, true);
    assert.equal(cache.stats().bytes.disk, 0);
    await cache.close();
  });
});
