import { randomBytes } from 'node:crypto';
import type { LiveSignIn } from '../admin/host-api.ts';

/**
 * What Sign in with Harbor keeps about its grants: registered clients, authorization codes and
 * access/refresh tokens. Codes and tokens are stored as SHA-256 hashes like static tokens
 * (auth/token-store.ts): the database alone never grants access. Two implementations behind this
 * interface: SQLite (sqlite-grant-store.ts, one host) and PostgreSQL (store/postgres/pg-grant-store.ts,
 * replicas); async because the SDK's provider is, and PostgreSQL answers over the network.
 */

/** A grant: what a code or token stands for. */
export interface Grant {
  clientId: string;
  teammate: string;
  /** RFC 8707 resource the grant is bound to (a server URL, or the origin for all servers). */
  resource: string;
  scopes: string[];
  /**
   * The client as the owner approved it (describeClient: a metadata document's claimed name with its
   * host), stored with the tokens: a document is cached in memory only, and after a restart the audit
   * log and the grants list would name such a client by its host alone. Null for grants from before.
   */
  clientName?: string | null;
}

export interface CodeGrant extends Grant {
  codeChallenge: string;
  redirectUri: string;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token lives. */
  expiresIn: number;
}

export interface VerifiedAccess extends Grant {
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** A live sign-in as the admin API lists it (the contract's LiveSignIn: admin/ never imports oauth/). */
export type GrantSummary = LiveSignIn;

export interface GrantStoreOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Short-lived on purpose (OAuth 2.1 asks for minutes at most): a code travels once, right away. */
  codeTtlMs?: number;
  accessTtlMs?: number;
  refreshTtlMs?: number;
}

export interface GrantStore {
  readonly codeTtlMs: number;
  readonly accessTtlMs: number;
  readonly refreshTtlMs: number;
  /** Clients (dynamic registration; metadata as the SDK hands it over). */
  saveClient(clientId: string, metadata: Record<string, unknown>): Promise<void>;
  getClient(clientId: string): Promise<Record<string, unknown> | undefined>;
  /** A single-use, short-lived code for the grant. */
  issueCode(grant: CodeGrant): Promise<string>;
  /**
   * The code's grant if it is live and belongs to `clientId` (the SDK asks for the PKCE challenge before
   * redeeming). A used code presented again is a replay: the tokens its first use issued are revoked.
   */
  peekCode(code: string, clientId: string): Promise<CodeGrant | null>;
  /**
   * Marks the code used and returns its grant; a second redemption fails (GrantError), and (RFC 6749
   * 10.5) revokes the tokens the first one issued, since one of the two callers is not the client.
   */
  redeemCode(code: string, clientId: string): Promise<CodeGrant & { family: string }>;
  /**
   * A new access + refresh pair in `family` (one family per sign-in; refreshes stay in it). Refused
   * (GrantError) when the family's code was replayed since it was redeemed: the replay revoked the
   * family before these tokens existed, and they must not outlive it.
   */
  issueTokens(grant: Grant, family: string): Promise<IssuedTokens>;
  verifyAccess(token: string): Promise<VerifiedAccess | null>;
  /**
   * Rotation: the presented refresh token is spent and a new pair issued in the same family. A spent
   * refresh token presented again means it leaked: the whole family is revoked (OAuth 2.1 4.3.1).
   */
  rotateRefresh(token: string, clientId: string): Promise<{ grant: Grant; tokens: IssuedTokens }>;
  /** RFC 7009: revoking either token of a pair ends the sign-in (the family). Unknown tokens: no-op. */
  revoke(token: string, clientId: string): Promise<void>;
  /** Every live grant of a teammate ends; how many tokens were revoked. */
  revokeTeammate(teammate: string): Promise<number>;
  /** Live sign-ins (one per family with a live refresh token), for the Team tab and `harbor token list`. */
  grants(): Promise<GrantSummary[]>;
  /** Drops expired codes and tokens long past use, and clients that never got a token in 30 days. */
  prune(): Promise<void>;
}

export class GrantError extends Error {
  override name = 'GrantError';
}

export const ACCESS_PREFIX = 'hoa_';
export const REFRESH_PREFIX = 'hor_';
export const CODE_PREFIX = 'hoc_';

export const DEFAULT_GRANT_TTLS = { codeTtlMs: 60_000, accessTtlMs: 60 * 60_000, refreshTtlMs: 30 * 86_400_000 };

/** Expired codes and tokens are kept a day (a late replay is still recognised), clients a month. */
export const PRUNE_AFTER_MS = 86_400_000;
export const IDLE_CLIENT_MS = 30 * 86_400_000;

export function newSecret(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** Whether `secret` can be one of ours: the prefix, and no longer than ours (nothing huge gets hashed). */
export function hasShape(secret: string, prefix: string): boolean {
  return secret.startsWith(prefix) && secret.length <= 128;
}

/** A code's hash names its sign-in: the family of the tokens it issues. */
export function familyOf(codeHash: Buffer): string {
  return codeHash.toString('base64url');
}

/** The code hash a family is named after (a family not made by familyOf names no code). */
export function codeHashOf(family: string): Buffer {
  return Buffer.from(family, 'base64url');
}

/**
 * The tables, one schema for both backends in their own types (SQLite: BLOB, INTEGER; PostgreSQL:
 * BYTEA, BIGINT), so the two cannot drift apart; each runs them with its own migration runner.
 */
export function grantMigrations(t: { bytes: string; integer: string }): string[] {
  return [
    `CREATE TABLE oauth_clients (
       client_id TEXT PRIMARY KEY,
       metadata TEXT NOT NULL,
       created_at ${t.integer} NOT NULL
     );
     CREATE TABLE oauth_codes (
       code_hash ${t.bytes} PRIMARY KEY,
       client_id TEXT NOT NULL,
       teammate TEXT NOT NULL,
       resource TEXT NOT NULL,
       scopes TEXT NOT NULL,
       code_challenge TEXT NOT NULL,
       redirect_uri TEXT NOT NULL,
       expires_at ${t.integer} NOT NULL,
       used_at ${t.integer}
     );
     CREATE TABLE oauth_tokens (
       token_hash ${t.bytes} PRIMARY KEY,
       kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
       family TEXT NOT NULL,
       client_id TEXT NOT NULL,
       teammate TEXT NOT NULL,
       resource TEXT NOT NULL,
       scopes TEXT NOT NULL,
       created_at ${t.integer} NOT NULL,
       expires_at ${t.integer} NOT NULL,
       revoked_at ${t.integer}
     );
     CREATE INDEX oauth_tokens_family ON oauth_tokens (family);
     CREATE INDEX oauth_tokens_teammate ON oauth_tokens (teammate);`,
    // A replay between a code's redemption and its tokens' issue must stop the issue (issueTokens).
    `ALTER TABLE oauth_codes ADD COLUMN replayed_at ${t.integer}`,
    // Grant.clientName; rows from before keep NULL (named from the clients table or the document cache, as before).
    'ALTER TABLE oauth_tokens ADD COLUMN client_name TEXT',
  ];
}

/** The rows both backends store (BLOB / BYTEA hashes, epoch-ms integers, scopes as JSON text). */
export interface CodeRow {
  code_hash: Buffer;
  client_id: string;
  teammate: string;
  resource: string;
  scopes: string;
  code_challenge: string;
  redirect_uri: string;
  expires_at: number;
  used_at: number | null;
  replayed_at: number | null;
}

export interface TokenRow {
  token_hash: Buffer;
  kind: 'access' | 'refresh';
  family: string;
  client_id: string;
  teammate: string;
  resource: string;
  scopes: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  client_name: string | null;
}

export interface GrantSummaryRow {
  teammate: string;
  client_id: string;
  /** The refresh token's stored name (Grant.clientName). */
  client_name: string | null;
  resource: string;
  created_at: number;
  refreshed_at: number;
  metadata: string | null;
}

export function codeGrant(row: CodeRow): CodeGrant {
  return {
    clientId: row.client_id,
    teammate: row.teammate,
    resource: row.resource,
    scopes: JSON.parse(row.scopes) as string[],
    codeChallenge: row.code_challenge,
    redirectUri: row.redirect_uri,
  };
}

/** A token's grant; its client name goes along, so a rotation keeps it. */
export function tokenGrant(row: TokenRow): Grant {
  return { clientId: row.client_id, teammate: row.teammate, resource: row.resource, scopes: JSON.parse(row.scopes) as string[], clientName: row.client_name ?? null };
}

export function grantSummary(row: GrantSummaryRow): GrantSummary {
  return {
    teammate: row.teammate,
    clientId: row.client_id,
    clientName: row.client_name ?? (row.metadata ? ((JSON.parse(row.metadata) as { client_name?: string }).client_name ?? null) : null),
    resource: row.resource,
    createdAt: row.created_at,
    lastRefreshedAt: row.refreshed_at === row.created_at ? null : row.refreshed_at,
  };
}

/** Why a code row cannot be redeemed now by `clientId`, or null when it can. */
export function codeRefusal(row: CodeRow | undefined, clientId: string, now: number): 'unknown' | 'used' | 'expired' | null {
  if (!row || row.client_id !== clientId) return 'unknown';
  if (row.used_at !== null) return 'used';
  return row.expires_at <= now ? 'expired' : null;
}

export const CODE_REFUSALS = { unknown: 'unknown authorization code', used: 'authorization code already used', expired: 'authorization code expired' } as const;

/** Why a refresh token row cannot be rotated now by `clientId`, or null when it can. */
export function refreshRefusal(row: TokenRow | undefined, clientId: string, now: number): 'unknown' | 'spent' | 'expired' | null {
  if (!row || row.kind !== 'refresh' || row.client_id !== clientId) return 'unknown';
  if (row.revoked_at !== null) return 'spent';
  return row.expires_at <= now ? 'expired' : null;
}

export const REFRESH_REFUSALS = { unknown: 'unknown refresh token', spent: 'refresh token already used or revoked', expired: 'refresh token expired' } as const;

/** The access token's grant if the row is a live access token. */
export function liveAccess(row: TokenRow | undefined, now: number): VerifiedAccess | null {
  if (!row || row.kind !== 'access' || row.revoked_at !== null || row.expires_at <= now) return null;
  return { ...tokenGrant(row), expiresAt: row.expires_at };
}
