import type { AuditQuery, StoredAuditEntry, TeammateConnection } from '../access/audit-store.ts';
import { ServiceInputError } from './input-error.ts';

/**
 * Activity: the audit log, filtered by teammate and server, newest first, paged back with `before`.
 * Both callers speak the same query string: GET /admin/activity's, and the one `harbor activity`
 * builds from its flags, sent to the host or, with no host answering, read here from the store.
 */
export interface AuditSource {
  /** The host's AuditLog (which writes what is pending first) or a bare store (offline). */
  query(query: AuditQuery): Promise<StoredAuditEntry[]>;
  connections(): Promise<TeammateConnection[]>;
}

export interface ActivityService {
  query(params: URLSearchParams): Promise<StoredAuditEntry[]>;
  /** How each teammate connected (token, sign-in client), most recent first: the Team tab's "Connected" column. */
  connections(): Promise<TeammateConnection[]>;
}

/** `teammate`, `server`, `limit` (clamped by the store; default 100) and `before` (epoch ms). */
export function activityFilter(params: URLSearchParams): AuditQuery {
  const teammate = params.get('teammate');
  const server = params.get('server');
  const limit = Number(params.get('limit') ?? 100);
  const before = params.has('before') ? Number(params.get('before')) : undefined;
  if (before !== undefined && !Number.isFinite(before)) throw new ServiceInputError('before must be a time in epoch milliseconds');
  return { ...(teammate ? { teammate } : {}), ...(server ? { server } : {}), limit, ...(before !== undefined ? { before } : {}) };
}

export function activityService(audit: AuditSource): ActivityService {
  return { query: (params) => audit.query(activityFilter(params)), connections: () => audit.connections() };
}
