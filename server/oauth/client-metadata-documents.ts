import { LRUCache } from 'lru-cache';
import { InvalidClientError, InvalidClientMetadataError, InvalidRequestError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { OAuthClientMetadataSchema, type OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import { z } from 'zod';
import type { Logger } from '../logger.ts';
import { fetchJsonDocument, FetchRefusedError, type BoundedFetchOptions } from './bounded-json-fetch.ts';
import { checkRedirectUris } from './redirect-uri-policy.ts';

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP authorization
 * 2025-11-25 and 2026-07-28): a client whose `client_id` is an https URL publishes its metadata at
 * that URL, and Harbor fetches it instead of asking for a registration. The SDK's router knows only
 * registered clients, so this stands behind the clients store's getClient: for a URL client_id it
 * answers with the fetched document as the client's information, and the router's usual checks
 * (exact redirect URI, loopback ports per RFC 8252, PKCE) apply to it unchanged.
 *
 * Harbor accepts public clients only: `token_endpoint_auth_method` must be `none` or absent, and a
 * document carrying a client secret is refused (a secret published at a public URL is no secret).
 * Nothing in the document is trusted for who the client is: the owner's approval shows the name the
 * document claims together with the host of the URL (`describeClient`), which is what can be checked.
 * A document listing only loopback redirect URIs can be claimed by any program on the teammate's
 * machine (the MCP spec's impersonation note); the owner's approval is what stands between that and
 * a grant, as with dynamic registration.
 */

export interface ClientMetadataOptions {
  /** Whole fetch, connect to last byte. Default 5 s. */
  timeoutMs?: number;
  /** Default 64 KiB: a document is a few hundred bytes; this leaves room for a logo list, not for a flood. */
  maxBytes?: number;
  /** Tests and local development only: fetch from loopback addresses (and plain http to a loopback IP). */
  allowLoopback?: boolean;
  /** Extra trusted CA certificates (PEM), for a test's self-signed server. */
  ca?: string;
  /**
   * Fetches under way at most (distinct URLs; callers of one URL share its fetch). Beyond it a new URL
   * is refused at once: strangers choose these URLs, and each fetch holds a socket and up to maxBytes.
   * Default 16.
   */
  maxConcurrentFetches?: number;
  /** Documents kept at most (least recently used go first). Default 200. */
  maxEntries?: number;
  /** Bounds of how long a document is kept: its Cache-Control max-age, clamped. */
  ttl?: Partial<TtlBounds>;
  /** Monotonic milliseconds, for the cache's expiry; injectable for tests. */
  now?: () => number;
}

export interface TtlBounds {
  /** Also what no-store / no-cache get: one sign-in (authorize, then token) fetches once. */
  minMs: number;
  /** Without max-age. */
  defaultMs: number;
  /** A changed document (new redirect URI, name) is seen within this long at the latest. */
  maxMs: number;
}

export const DEFAULT_TTL: TtlBounds = { minMs: 60_000, defaultMs: 10 * 60_000, maxMs: 24 * 60 * 60_000 };

export interface ClientMetadataDocuments {
  /**
   * The client a URL client_id stands for, from its (cached) document. Throws the SDK's OAuth errors,
   * which its router answers as 400 with `error` and `error_description`: invalid_request for a
   * malformed client ID URL, invalid_client for a document that cannot be fetched or is not acceptable.
   */
  get(clientId: string): Promise<OAuthClientInformationFull>;
  /** What `describeClient` says of a URL client_id, from the cached document if there is one (never fetches). */
  describe(clientId: string): string;
}

const MAX_CLIENT_ID_LENGTH = 2000;

/**
 * Whether a client_id is meant as a metadata document URL. Registered clients get UUIDs from the SDK,
 * so a URL client_id is never also a registered one.
 */
export function isClientIdUrl(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}

export function clientMetadataDocuments(options: ClientMetadataOptions = {}, log?: Logger): ClientMetadataDocuments {
  const fetchOptions: BoundedFetchOptions = {
    timeoutMs: options.timeoutMs ?? 5000,
    maxBytes: options.maxBytes ?? 64 * 1024,
    allowLoopback: options.allowLoopback ?? false,
    ca: options.ca,
  };
  const bounds = { ...DEFAULT_TTL, ...options.ttl };
  const maxFetches = options.maxConcurrentFetches ?? 16;
  let fetching = 0;
  // lru-cache's fetch() shares one fetch among concurrent callers of a key and caches nothing when the
  // fetch fails (the draft forbids caching errors and invalid documents); the TTL is set per document.
  const cache = new LRUCache<string, OAuthClientInformationFull>({
    max: options.maxEntries ?? 200,
    ttl: bounds.defaultMs,
    // Read the clock on every check (the default caches it for 1 ms): a handful of reads per sign-in.
    ttlResolution: 0,
    ...(options.now ? { perf: { now: options.now } } : {}),
    fetchMethod: async (clientId, _stale, { options: entry }) => {
      const url = clientIdUrl(clientId, fetchOptions.allowLoopback);
      if (fetching >= maxFetches) throw new FetchRefusedError(`was not fetched: ${maxFetches} other documents are being fetched; try again shortly`);
      fetching++;
      const fetched = await fetchJsonDocument(url, fetchOptions).finally(() => fetching--);
      const client = clientFromDocument(clientId, fetched.body);
      entry.ttl = cacheTtlMs(fetched.cacheControl, bounds);
      return client;
    },
  });
  return {
    async get(clientId) {
      try {
        const client = await cache.fetch(clientId);
        if (!client) throw new InvalidClientError(`client metadata document ${clientId} could not be had`);
        return client;
      } catch (error) {
        const refusal = asOAuthError(clientId, error);
        log?.info({ clientId: clientId.slice(0, 200), reason: refusal.message }, 'client metadata document refused');
        throw refusal;
      }
    },
    describe: (clientId) => describeClient(cache.peek(clientId) ?? { client_id: clientId, redirect_uris: [] }),
  };
}

/** The client ID URL rules of the draft (section 3): https, a path, no fragment, no user info, no dot segments. */
export function clientIdUrl(clientId: string, allowLoopback = false): URL {
  const refuse = (why: string) => new InvalidRequestError(`client_id ${clientId.slice(0, 200)} is not a client ID metadata URL: ${why}`);
  if (clientId.length > MAX_CLIENT_ID_LENGTH) throw refuse(`longer than ${MAX_CLIENT_ID_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw refuse('not a URL');
  }
  // Plain http passes only with allowLoopback, and then only to a loopback IP (bounded-json-fetch.ts checks).
  if (url.protocol !== 'https:' && !(allowLoopback && url.protocol === 'http:')) throw refuse('the scheme must be https');
  if (url.username || url.password) throw refuse('no user name or password allowed');
  if (clientId.includes('#')) throw refuse('no fragment allowed');
  if (url.pathname === '/') throw refuse('it needs a path');
  // new URL() resolves dot segments away, so the raw text is what tells.
  const rawPath = clientId.replace(/^[a-z]+:\/\/[^/]*/i, '').split(/[?#]/)[0]!;
  if (rawPath.split('/').some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment))) throw refuse('no . or .. path segments allowed');
  return url;
}

// Harbor's restrictions on top of RFC 7591's metadata (the SDK's schema checks the fields' shapes).
const DocumentSchema = OAuthClientMetadataSchema.extend({
  client_id: z.string(),
  token_endpoint_auth_method: z.literal('none', { error: 'must be "none" or absent: Harbor accepts public clients only' }).optional(),
  client_name: z.string().max(200).optional(),
});

/** The document as the client's information, or invalid_client saying what is wrong with it. */
export function clientFromDocument(clientId: string, body: unknown): OAuthClientInformationFull {
  const refuse = (why: string) => new InvalidClientError(`client metadata document ${clientId.slice(0, 200)}: ${why}`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw refuse('is not a JSON object');
  const raw = body as Record<string, unknown>;
  if ('client_secret' in raw || 'client_secret_expires_at' in raw) throw refuse('may not carry a client_secret (a secret published at a URL is not secret)');
  // Simple string comparison (RFC 3986 6.2.1), no normalisation: the draft forbids it on the server's side.
  if (raw.client_id !== clientId) throw refuse(`its client_id ${JSON.stringify(String(raw.client_id ?? '')).slice(0, 200)} is not the URL it was fetched from`);
  const parsed = DocumentSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw refuse(`${issue.path.join('.') || 'document'}: ${issue.message}`);
  }
  const document = parsed.data;
  if (document.grant_types && !document.grant_types.includes('authorization_code')) throw refuse('grant_types must include authorization_code');
  if (document.response_types && !document.response_types.includes('code')) throw refuse('response_types must include code');
  try {
    checkRedirectUris(document.redirect_uris);
  } catch (error) {
    if (error instanceof InvalidClientMetadataError) throw refuse(error.message);
    throw error;
  }
  return { ...document, client_id: clientId, token_endpoint_auth_method: 'none' };
}

/**
 * How long a document is kept: its max-age within the bounds; no-store and no-cache get the minimum.
 * Parsed by hand: two directives matter here, not worth a dependency.
 */
export function cacheTtlMs(cacheControl: string | undefined, bounds: TtlBounds = DEFAULT_TTL): number {
  const directives = (cacheControl ?? '').toLowerCase().split(',').map((d) => d.trim());
  if (directives.includes('no-store') || directives.includes('no-cache')) return bounds.minMs;
  const maxAge = directives.map((d) => /^max-age=(\d+)$/.exec(d)?.[1]).find((v) => v !== undefined);
  const ms = maxAge === undefined ? bounds.defaultMs : Number(maxAge) * 1000;
  return Math.min(bounds.maxMs, Math.max(bounds.minMs, ms));
}

/**
 * The name the owner and the teammate see: what the client says it is, and where its document lives
 * (the part nobody can fake). Registered clients: their name as before.
 */
export function describeClient(client: OAuthClientInformationFull): string {
  const name = cleanClientName(client.client_name);
  const host = isClientIdUrl(client.client_id) && URL.canParse(client.client_id) ? new URL(client.client_id).host : null;
  if (!host) return name || 'an MCP client';
  return name ? `${name} (${host})` : host;
}

/** A client's self-chosen name as shown anywhere: no control or format characters (terminal escapes, bidi overrides), at most 100 characters; '' when none is left. */
export function cleanClientName(name: string | undefined): string {
  return (name ?? '').replace(/[\p{Cc}\p{Cf}]/gu, '').trim().slice(0, 100);
}

function asOAuthError(clientId: string, error: unknown): Error {
  if (error instanceof InvalidClientError || error instanceof InvalidRequestError) return error;
  if (error instanceof FetchRefusedError) return new InvalidClientError(`client metadata document ${clientId.slice(0, 200)} ${error.message}`);
  return new InvalidClientError(`client metadata document ${clientId.slice(0, 200)} could not be fetched: ${(error as Error).message}`);
}
