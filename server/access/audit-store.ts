/**
 * Where audit entries live. An interface: SQLite on one host (sqlite-audit-store.ts), PostgreSQL for
 * replicas (server/store/postgres/pg-audit-store.ts, DESIGN.md section 9); asynchronous for the
 * latter, even though SQLite answers synchronously.
 */

import type { ConnectedVia } from '../auth/connected-via.ts';

/** One MCP call: who called what on which server, when, for how long, and whether it failed. */
export interface AuditEntry {
  teammate: string;
  /** How the caller authenticated (static token or sign-in); absent on rows written before it was recorded. */
  via?: ConnectedVia;
  server: string;
  /** JSON-RPC method, e.g. `tools/call`. */
  method: string;
  /** Tool name for `tools/call`. */
  tool?: string;
  durationMs: number;
  ok: boolean;
  error?: string;
  /** Epoch milliseconds. */
  at: number;
}

export interface StoredAuditEntry extends AuditEntry {
  /** Increases with insertion order. */
  id: number;
  /** The replica that served the call (HARBOR_REPLICA), when the store was given one. */
  replica?: string;
}

export interface AuditStoreOptions {
  /** Stamped on every entry this store appends: which replica served the call. */
  replica?: string;
}

export interface AuditQuery {
  teammate?: string;
  server?: string;
  /** At most this many entries (clamped to 1..1000, default 100). */
  limit?: number;
  /** Only entries strictly older than this (epoch ms), for paging back. */
  before?: number;
}

export interface AuditPrune {
  /** Keep at most this many newest entries. */
  maxRows?: number;
  /** Delete entries with `at` before this (epoch ms). */
  olderThan?: number;
}

/** One way a teammate connected: the latest call made that way, and how many calls the log holds. */
export interface TeammateConnection {
  teammate: string;
  via: ConnectedVia;
  lastAt: number;
  calls: number;
}

/** The most connections `connections()` answers (one per teammate and way in, so a team's worth). */
export const MAX_CONNECTIONS = 1000;

export interface AuditStore {
  append(entries: readonly AuditEntry[]): Promise<void>;
  /** Newest first. */
  query(query: AuditQuery): Promise<StoredAuditEntry[]>;
  /** Per teammate and way in (token, sign-in client), most recently used first; rows without `via` are left out. */
  connections(): Promise<TeammateConnection[]>;
  /** Returns how many entries were deleted. */
  prune(policy: AuditPrune): Promise<number>;
  count(): Promise<number>;
  close(): Promise<void>;
}

export const AUDIT_QUERY_DEFAULT_LIMIT = 100;
export const AUDIT_QUERY_MAX_LIMIT = 1000;

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return AUDIT_QUERY_DEFAULT_LIMIT;
  return Math.min(AUDIT_QUERY_MAX_LIMIT, Math.max(1, Math.floor(limit)));
}
