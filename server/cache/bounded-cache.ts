import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import { silentLogger, type Logger } from '../logger.ts';
import { backoffDelay, type BackoffOptions } from '../supervision/backoff.ts';
import { CacheStoreError, entrySize, type CacheStore, type CacheStoreFactory, type CacheStoreFailure } from './cache-store.ts';
import { jsonCodec, type ValueCodec } from './value-codecs.ts';

export interface BoundedCacheOptions<V> {
  /**
   * The disk layer, injected: `sqliteCacheStoreFactory({ file })` (one file shared by any number of
   * caches, each keeping to its `namespace`; a file of its own, not harbor.db, since a corrupt cache
   * file is deleted and recreated), or another store (PostgreSQL, DESIGN.md section 9).
   * Without one the cache lives in memory only.
   */
  store?: CacheStoreFactory;
  /** Keeps this cache's entries apart from other caches in the same store, e.g. `"embeddings"`. */
  namespace: string;
  /**
   * Bound of the in-memory layer in bytes: keys (2 bytes a character) + encoded values + a fixed
   * per-entry overhead. Least recently used entries leave memory first; they stay on disk.
   */
  maxMemoryBytes: number;
  /**
   * Bound of this namespace on disk in bytes of keys + encoded values; least recently used entries
   * are deleted beyond it. The files themselves are somewhat larger (pages, indexes, WAL).
   * Default 256 MiB. A value larger than this is kept in memory only.
   */
  maxDiskBytes?: number;
  /** Default time to live of an entry in ms; 0 or absent = entries never expire. */
  ttlMs?: number;
  /** Turns values into bytes and back. Default: JSON. */
  codec?: ValueCodec<V>;
  logger?: Logger;
  /** Writes and recency updates are gathered for this long, then written in one transaction. Default 10 ms. */
  flushDelayMs?: number;
  /** Write at once when this many operations are waiting. Default 1000. */
  maxPendingWrites?: number;
  /** First retry of a failed disk layer after this delay; doubles on each failure up to 5 min. Default 30 s. */
  rebuildDelayMs?: number;
  /** At most this often a write also verifies the file is still there and intact. Default 5 s. */
  checkIntervalMs?: number;
  /** At most this often expired rows are removed from disk. Default 60 s. */
  sweepIntervalMs?: number;
  /** Epoch-ms clock; tests pass a fake one to move time. Default `Date.now`. */
  clock?: () => number;
}

export interface CacheSetOptions {
  /** Time to live of this entry in ms, overriding the cache's `ttlMs`; 0 = never expires. */
  ttlMs?: number;
}

export interface DegradedState {
  kind: CacheStoreFailure;
  reason: string;
  /** Epoch ms. */
  since: number;
}

export interface BoundedCacheStats {
  namespace: string;
  /** A disk layer is configured (it may be degraded). */
  persistent: boolean;
  degraded: DegradedState | null;
  hits: { memory: number; disk: number };
  misses: number;
  /** hits / (hits + misses), 0 before any lookup. */
  hitRatio: number;
  sets: number;
  deletes: number;
  evictions: { memory: number; disk: number };
  expired: number;
  bytes: { memory: number; disk: number };
  entries: { memory: number; disk: number };
  pendingWrites: number;
}

export interface BoundedCacheEvents {
  degraded: [DegradedState];
  recovered: [];
}

/** Key + map bookkeeping per memory entry, so many tiny values still respect the byte bound. */
const MEMORY_ENTRY_OVERHEAD = 96;
const DEFAULT_MAX_DISK_BYTES = 256 * 1024 * 1024;
const MAX_REBUILD_DELAY_MS = 5 * 60_000;

type PendingOp = { kind: 'set'; value: Buffer; expiresAt: number | null; accessedAt: number } | { kind: 'delete' };

/** Opens the cache and its disk layer; a disk layer that cannot open leaves the cache memory-only (degraded). */
export async function openBoundedCache<V = unknown>(options: BoundedCacheOptions<V>): Promise<BoundedCache<V>> {
  const cache = new BoundedCache<V>(options);
  await cache.ready;
  return cache;
}

/**
 * Two-level cache: an in-memory LRU bounded by bytes in front of a persistent store bounded by bytes,
 * both least-recently-used, with per-entry TTL. Writes reach the store in batched transactions.
 * No method throws because of the disk layer: on failure the cache logs, emits `degraded`, keeps
 * serving from memory and rebuilds the store later (emitting `recovered`).
 */
export class BoundedCache<V = unknown> extends EventEmitter<BoundedCacheEvents> {
  /** Settles when the first attempt to open the disk layer is over (successful or not). */
  readonly ready: Promise<void>;
  readonly namespace: string;
  readonly #codec: ValueCodec<V>;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #memory: LRUCache<string, Buffer>;
  readonly #factory: CacheStoreFactory | undefined;
  readonly #ttlMs: number;
  readonly #maxDiskBytes: number;
  readonly #flushDelayMs: number;
  readonly #maxPendingWrites: number;
  readonly #rebuildBackoff: BackoffOptions;
  readonly #checkIntervalMs: number;
  readonly #sweepIntervalMs: number;

  #store: CacheStore | null = null;
  #opening = false;
  #closed = false;
  #degraded: DegradedState | null = null;
  /** Failed rebuilds since the store last worked: the next one waits backoffDelay(this) longer. */
  #rebuildAttempts = 0;
  #rebuildTimer: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #flushChain: Promise<void> = Promise.resolve();
  #pending = new Map<string, PendingOp>();
  #touches = new Map<string, number>();
  #flushing: Map<string, PendingOp> | undefined;
  #lastTick = 0;
  #mutations = 0;
  #lastCheck = 0;
  #lastSweep = 0;
  readonly #counters = {
    memoryHits: 0,
    diskHits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    memoryEvictions: 0,
    diskEvictions: 0,
    expired: 0,
  };

  constructor(options: BoundedCacheOptions<V>) {
    super();
    if (!(options.maxMemoryBytes > 0)) throw new RangeError('maxMemoryBytes must be > 0');
    this.namespace = options.namespace;
    this.#codec = options.codec ?? jsonCodec<V>();
    this.#logger = (options.logger ?? silentLogger).child({ cache: options.namespace });
    this.#clock = options.clock ?? Date.now;
    this.#ttlMs = options.ttlMs ?? 0;
    this.#maxDiskBytes = options.maxDiskBytes ?? DEFAULT_MAX_DISK_BYTES;
    this.#flushDelayMs = options.flushDelayMs ?? 10;
    this.#maxPendingWrites = options.maxPendingWrites ?? 1000;
    const rebuildDelayMs = options.rebuildDelayMs ?? 30_000;
    this.#rebuildBackoff = { initialMs: rebuildDelayMs, factor: 2, maxMs: Math.max(rebuildDelayMs, MAX_REBUILD_DELAY_MS) };
    this.#checkIntervalMs = options.checkIntervalMs ?? 5_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.#factory = options.store;
    const clock = this.#clock;
    this.#memory = new LRUCache<string, Buffer>({
      maxSize: options.maxMemoryBytes,
      maxEntrySize: options.maxMemoryBytes,
      sizeCalculation: (value, key) => value.length + key.length * 2 + MEMORY_ENTRY_OVERHEAD,
      perf: { now: () => clock() },
      ttlResolution: 0,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.#counters.memoryEvictions++;
      },
    });
    this.ready = this.#factory ? this.#openStore(false) : Promise.resolve();
  }

  /** The value, or undefined when absent or expired. Never throws because of the disk layer. */
  async get(key: string): Promise<V | undefined> {
    const inMemory = this.#memory.get(key);
    if (inMemory) {
      this.#counters.memoryHits++;
      this.#touch(key);
      return this.#codec.decode(inMemory);
    }
    const queued = this.#pending.get(key) ?? this.#flushing?.get(key);
    if (queued) {
      if (queued.kind === 'set' && (queued.expiresAt === null || queued.expiresAt > this.#clock())) {
        this.#counters.memoryHits++;
        return this.#codec.decode(queued.value);
      }
      this.#counters.misses++;
      return undefined;
    }
    if (this.#opening) await this.ready;
    const store = this.#store;
    if (!store) {
      this.#counters.misses++;
      return undefined;
    }
    const mutationsBefore = this.#mutations;
    let entry;
    try {
      entry = await store.get(key);
    } catch (error) {
      this.#degrade(error);
      this.#counters.misses++;
      return undefined;
    }
    if (!entry) {
      this.#counters.misses++;
      return undefined;
    }
    const now = this.#clock();
    if (entry.expiresAt !== null && entry.expiresAt <= now) {
      this.#counters.misses++;
      this.#counters.expired++;
      this.#queue(key, { kind: 'delete' });
      return undefined;
    }
    this.#counters.diskHits++;
    // A write that raced this read is newer than what the read returned: don't put the old value in memory.
    if (this.#mutations === mutationsBefore) {
      const value = ownedCopy(entry.value);
      this.#memory.set(key, value, entry.expiresAt === null ? {} : { ttl: entry.expiresAt - now });
      this.#touch(key);
    }
    return this.#codec.decode(entry.value);
  }

  set(key: string, value: V, options: CacheSetOptions = {}): void {
    // A private copy: the codec may hand back the caller's buffer or a slice of Node's shared 8 KiB pool,
    // which a long-lived entry would pin.
    const encoded = this.#codec.encode(value);
    const owned = Buffer.allocUnsafeSlow(encoded.length);
    encoded.copy(owned);
    const ttl = options.ttlMs ?? this.#ttlMs;
    const expiresAt = ttl > 0 ? this.#clock() + ttl : null;
    this.#counters.sets++;
    this.#mutations++;
    this.#memory.set(key, owned, ttl > 0 ? { ttl } : {});
    if (entrySize(key, owned) <= this.#maxDiskBytes) {
      this.#queue(key, { kind: 'set', value: owned, expiresAt, accessedAt: this.#tick() });
    } else {
      this.#queue(key, { kind: 'delete' });
    }
  }

  delete(key: string): void {
    this.#counters.deletes++;
    this.#mutations++;
    this.#memory.delete(key);
    this.#queue(key, { kind: 'delete' });
  }

  /** Empties both layers of this namespace (other namespaces in the same file are untouched). */
  async clear(): Promise<void> {
    this.#mutations++;
    this.#memory.clear();
    this.#pending.clear();
    this.#touches.clear();
    await this.flush();
    const store = this.#store;
    if (!store) return;
    try {
      await store.clear();
    } catch (error) {
      this.#degrade(error);
    }
  }

  /** Writes everything queued so far. Never rejects. */
  flush(): Promise<void> {
    this.#flushChain = this.#flushChain.then(() => this.#flushOnce());
    return this.#flushChain;
  }

  /** Flushes and closes the disk layer; the cache is unusable for persistence afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.ready;
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#rebuildTimer);
    clearTimeout(this.#flushTimer);
    const store = this.#store;
    this.#store = null;
    await store?.close();
  }

  get degraded(): DegradedState | null {
    return this.#degraded;
  }

  stats(): BoundedCacheStats {
    const c = this.#counters;
    const hits = c.memoryHits + c.diskHits;
    const usage = this.#store?.usage();
    return {
      namespace: this.namespace,
      persistent: this.#factory !== undefined,
      degraded: this.#degraded,
      hits: { memory: c.memoryHits, disk: c.diskHits },
      misses: c.misses,
      hitRatio: hits + c.misses === 0 ? 0 : hits / (hits + c.misses),
      sets: c.sets,
      deletes: c.deletes,
      evictions: { memory: c.memoryEvictions, disk: c.diskEvictions },
      expired: c.expired,
      bytes: { memory: this.#memory.calculatedSize, disk: usage?.bytes ?? 0 },
      entries: { memory: this.#memory.size, disk: usage?.entries ?? 0 },
      pendingWrites: this.#pending.size + this.#touches.size,
    };
  }

  /** Recency ticks: microseconds of wall time, forced strictly increasing so LRU order has no ties. */
  #tick(): number {
    const tick = Math.max(Math.floor(this.#clock() * 1000), this.#lastTick + 1);
    this.#lastTick = tick;
    return tick;
  }

  #diskWanted(): boolean {
    return !this.#closed && (this.#store !== null || this.#opening);
  }

  #queue(key: string, op: PendingOp): void {
    if (!this.#diskWanted()) return;
    this.#pending.set(key, op);
    this.#touches.delete(key);
    this.#scheduleFlush();
  }

  #touch(key: string): void {
    if (!this.#diskWanted()) return;
    const queued = this.#pending.get(key);
    if (queued?.kind === 'set') queued.accessedAt = this.#tick();
    else if (!queued) this.#touches.set(key, this.#tick());
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#pending.size + this.#touches.size >= this.#maxPendingWrites) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      void this.flush();
      return;
    }
    if (this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      void this.flush();
    }, this.#flushDelayMs);
    this.#flushTimer.unref();
  }

  async #flushOnce(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#opening) await this.ready;
    const store = this.#store;
    if (!store) {
      this.#pending.clear();
      this.#touches.clear();
      return;
    }
    const now = this.#clock();
    const checkDue = now - this.#lastCheck >= this.#checkIntervalMs;
    const sweepDue = now - this.#lastSweep >= this.#sweepIntervalMs;
    if (this.#pending.size === 0 && this.#touches.size === 0 && !sweepDue) return;
    const pending = this.#pending;
    const touches = this.#touches;
    this.#pending = new Map();
    this.#touches = new Map();
    this.#flushing = pending;
    try {
      if (checkDue) {
        await store.check();
        this.#lastCheck = now;
      }
      const batch = { sets: [] as Parameters<CacheStore['write']>[0]['sets'], deletes: [] as string[], touches: [...touches] };
      for (const [key, op] of pending) {
        if (op.kind === 'set') batch.sets.push({ key, value: op.value, expiresAt: op.expiresAt, accessedAt: op.accessedAt });
        else batch.deletes.push(key);
      }
      const result = await store.write(batch);
      this.#counters.diskEvictions += result.evicted;
      if (sweepDue) {
        this.#lastSweep = now;
        this.#counters.expired += await store.sweepExpired(now);
      }
    } catch (error) {
      this.#degrade(error);
    } finally {
      this.#flushing = undefined;
    }
  }

  async #openStore(discardExisting: boolean): Promise<void> {
    if (!this.#factory || this.#closed) return;
    this.#opening = true;
    let store: CacheStore;
    try {
      store = await this.#factory({
        namespace: this.namespace,
        maxBytes: this.#maxDiskBytes,
        discardExisting,
        logger: this.#logger,
      });
    } catch (error) {
      this.#opening = false;
      this.#markDegraded(asStoreError(error));
      return;
    }
    this.#opening = false;
    if (this.#closed) {
      await store.close();
      return;
    }
    this.#store = store;
    this.#lastTick = Math.max(this.#lastTick, store.usage().maxAccessedAt);
    this.#lastCheck = this.#clock();
    if (this.#degraded) {
      this.#logger.info({ store: store.description, after: this.#degraded.reason }, 'cache disk layer rebuilt');
      this.#degraded = null;
      this.#rebuildAttempts = 0;
      this.#persistMemory();
      this.emit('recovered');
    }
  }

  /** After a rebuild the store is empty: write what memory holds so it survives the next restart. */
  #persistMemory(): void {
    const now = this.#clock();
    const entries = [...this.#memory.entries()].reverse(); // least recently used first → oldest ticks
    for (const [key, value] of entries) {
      const remaining = this.#memory.getRemainingTTL(key);
      if (remaining <= 0) continue;
      const expiresAt = Number.isFinite(remaining) ? now + remaining : null;
      if (entrySize(key, value) <= this.#maxDiskBytes) {
        this.#pending.set(key, { kind: 'set', value, expiresAt, accessedAt: this.#tick() });
      }
    }
    if (this.#pending.size > 0) this.#scheduleFlush();
  }

  #degrade(error: unknown): void {
    const store = this.#store;
    if (!store) return;
    this.#store = null;
    void store.close().catch(() => {});
    this.#markDegraded(asStoreError(error));
  }

  #markDegraded(failure: CacheStoreError): void {
    this.#pending.clear();
    this.#touches.clear();
    const first = this.#degraded === null;
    this.#degraded = { kind: failure.kind, reason: failure.message, since: this.#clock() };
    this.#logger.error(
      { kind: failure.kind, reason: failure.message, retryInMs: backoffDelay(this.#rebuildAttempts, this.#rebuildBackoff) },
      'cache disk layer failed; serving from memory only until it is rebuilt',
    );
    if (first) this.emit('degraded', this.#degraded);
    this.#scheduleRebuild(failure.kind === 'corrupt');
  }

  #scheduleRebuild(discardExisting: boolean): void {
    if (this.#closed || this.#rebuildTimer) return;
    const delay = backoffDelay(this.#rebuildAttempts++, this.#rebuildBackoff);
    this.#rebuildTimer = setTimeout(() => {
      this.#rebuildTimer = undefined;
      void this.#openStore(discardExisting);
    }, delay);
    this.#rebuildTimer.unref();
  }
}

function asStoreError(error: unknown): CacheStoreError {
  if (error instanceof CacheStoreError) return error;
  return new CacheStoreError('other', error instanceof Error ? error.message : String(error), { cause: error });
}

/** Buffers from the driver may be views into a larger allocation; keep only our bytes alive. */
function ownedCopy(bytes: Buffer): Buffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}
