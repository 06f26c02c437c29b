import type { Logger } from '../logger.ts';

/**
 * The persistent layer behind a BoundedCache. SQLite is the default (sqlite-cache-store.ts); a
 * PostgreSQL implementation follows for multi-replica deployments (DESIGN.md section 9), which is why
 * every method returns a Promise even though better-sqlite3 is synchronous.
 *
 * A store serves one namespace and enforces that namespace's byte bound itself, evicting the least
 * recently accessed entries, so the bound holds whatever the caller does.
 */
export interface CacheStore {
  /** Where the data lives, for log lines (never contains a secret). */
  readonly description: string;
  /** The stored bytes and expiry; expired rows may still be returned (the caller decides). */
  get(key: string): Promise<StoredEntry | undefined>;
  /** Applies a batch atomically, then evicts least recently accessed entries until under the bound. */
  write(batch: CacheWriteBatch): Promise<CacheWriteResult>;
  /** Removes entries whose expiry is at or before `now` (epoch ms). Returns how many. */
  sweepExpired(now: number): Promise<number>;
  clear(): Promise<void>;
  /** Running totals kept by the store (no query). */
  usage(): CacheStoreUsage;
  /** Throws CacheStoreError when the backing storage is gone or damaged (e.g. the file was deleted). */
  check(): Promise<void>;
  close(): Promise<void>;
}

export interface StoredEntry {
  value: Buffer;
  /** Epoch ms, or null for no expiry. */
  expiresAt: number | null;
}

export interface CacheWriteBatch {
  sets: CacheSetOp[];
  deletes: string[];
  /** Recency updates: [key, accessedAt]. Keys that no longer exist are ignored. */
  touches: Array<[string, number]>;
}

export interface CacheSetOp {
  key: string;
  value: Buffer;
  expiresAt: number | null;
  /** Logical recency tick (strictly increasing per cache); larger = more recently used. */
  accessedAt: number;
}

export interface CacheWriteResult {
  /** Entries removed to get back under the byte bound. */
  evicted: number;
}

export interface CacheStoreUsage {
  bytes: number;
  entries: number;
  /** Largest recency tick stored, so a reopened cache keeps its ticks increasing. */
  maxAccessedAt: number;
}

/** Bytes an entry counts against the disk bound: its key and value (row overhead is not counted). */
export function entrySize(key: string, value: Buffer): number {
  return Buffer.byteLength(key) + value.length;
}

/** Why a store cannot be used; the cache reacts by going memory-only and rebuilding later. */
export type CacheStoreFailure = 'corrupt' | 'full' | 'missing' | 'io' | 'other';

export class CacheStoreError extends Error {
  readonly kind: CacheStoreFailure;
  constructor(kind: CacheStoreFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CacheStoreError';
    this.kind = kind;
  }
}

/** A driver's error as a CacheStoreError, its kind decided by the backend's `classify` of the error code. */
export function toCacheStoreError(error: unknown, classify: (code: string) => CacheStoreFailure): CacheStoreError {
  if (error instanceof CacheStoreError) return error;
  const code = String((error as { code?: unknown })?.code ?? '');
  const message = error instanceof Error ? error.message : String(error);
  return new CacheStoreError(classify(code), `${code || 'error'}: ${message}`, { cause: error });
}

export interface CacheStoreOpenOptions {
  namespace: string;
  maxBytes: number;
  /** Throw away whatever exists (used after corruption) instead of reusing it. */
  discardExisting: boolean;
  /** The cache's logger (bound to its namespace), for what the store itself reports. */
  logger?: Logger;
}

/** Opens (or re-opens after a failure) the store for one namespace. */
export type CacheStoreFactory = (options: CacheStoreOpenOptions) => Promise<CacheStore>;
