import type { IncomingMessage, ServerResponse } from 'node:http';
import type express from 'express';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { TokenBucket } from '../access/token-bucket.ts';
import type { OAuthGate } from '../http/host-server.ts';
import { tokenCaller } from '../http/auth-guards.ts';
import { sendUnauthorized } from '../http/auth-answers.ts';
import { sendError } from '../http/http-errors.ts';
import type { Logger } from '../logger.ts';
import { clientMetadataDocuments, isClientIdUrl, type ClientMetadataOptions } from './client-metadata-documents.ts';
import type { GrantSummary } from './grant-store.ts';
import type { Invite } from './invite-store.ts';
import { serverUrl } from '../access/server-url.ts';
import { canonicalResource, requestOrigin, resourceAliases, type OriginSources } from './oauth-origin.ts';
import { DEFAULT_RATE_LIMITS, originApp, type OAuthRateLimits, type OriginApp } from './origin-app.ts';
import type { PendingApproval } from './sign-in-requests.ts';
import type { SignInStores } from './sign-in-stores.ts';

/** `tokens`: static tokens only; `oauth`: sign-in only; `both`: a static token if presented, else sign-in. */
export type AuthMode = 'tokens' | 'oauth' | 'both';

export interface SignInWithHarborOptions extends OriginSources {
  /** Grants, invites and waiting requests: the home's SQLite file, or the replicas' PostgreSQL (open-store.ts). */
  stores: SignInStores;
  mode: Exclude<AuthMode, 'tokens'>;
  /** Names of the hosted servers, read per request (servers come and go). */
  servers: () => Iterable<string>;
  log: Logger;
  rateLimits?: Partial<OAuthRateLimits>;
  /** A teammate asked to connect (for the app's notification). */
  onApprovalRequested?: (approval: PendingApproval) => void;
  pollSeconds?: number;
  /** Fetching clients' metadata documents (URL client_ids): bounds, and loopback for tests. */
  clientMetadata?: ClientMetadataOptions;
}

/** What the admin API offers the owner. */
export interface SignInAdmin {
  approvals(): Promise<PendingApproval[]>;
  decide(id: string, approve: boolean): Promise<PendingApproval>;
  /** The invite and the connection URLs to send the teammate (no secret in them). */
  invite(name: string, withCode: boolean): Promise<{ invite: Invite; urls: string[] }>;
  invites(): Promise<Invite[]>;
  grants(): Promise<GrantSummary[]>;
  /** Ends the teammate's sign-ins and their waiting requests; how many tokens were revoked. */
  revokeTeammate(name: string): Promise<number>;
}

export interface SignInWithHarbor {
  gate: OAuthGate;
  admin: SignInAdmin;
  /** Drops expired codes and tokens; the host calls it now and then. */
  prune(): Promise<void>;
  /** A teammate's sign-ins were revoked through another replica (their sessions here should end). */
  onRevokedElsewhere(listener: (teammate: string) => void): () => void;
}

// The paths this module answers; everything else is the host's.
const OAUTH_PATH = /^\/(?:\.well-known\/(?:oauth-protected-resource|oauth-authorization-server)(?:\/.*)?|authorize|token|register|revoke|signin|signin\/wait)$/;

export function signInWithHarbor(options: SignInWithHarborOptions): SignInWithHarbor {
  const { grants, invites, requests } = options.stores;
  requests.onWaiting = (approval) => options.onApprovalRequested?.(approval);
  const servers = () => new Set(options.servers());
  const rateLimits = { ...DEFAULT_RATE_LIMITS, ...options.rateLimits };
  const deps = {
    grants,
    invites,
    requests,
    servers,
    // Five tries at once, then one every 12 s per visitor: plenty for a person, useless for guessing codes.
    attempts: new TokenBucket({ ratePerSecond: rateLimits.signInPerMinute / 60, burst: rateLimits.signInBurst }),
    pollSeconds: options.pollSeconds ?? 2,
    rateLimits,
    // One cache for every origin: a document is the client's, whichever address the teammate used.
    clientDocuments: clientMetadataDocuments(options.clientMetadata, options.log),
    resources: (origin: string) => {
      const all = new Set([canonicalResource(origin)]);
      for (const name of servers()) for (const kind of ['mcp', 'sse']) for (const alias of resourceAliases(origin, kind, name)) all.add(alias);
      return all;
    },
  };
  // A handful of origins (loopback aliases, the tunnel's); null remembers one the SDK refused as issuer.
  const apps = new Map<string, OriginApp | null>();
  const appFor = (origin: string): OriginApp | null => {
    if (!apps.has(origin)) {
      let built: OriginApp | null = null;
      try {
        built = originApp(origin, deps);
      } catch (error) {
        options.log.warn({ origin, err: (error as Error).message }, 'sign-in is not offered at this origin');
      }
      if (apps.size > 20) apps.clear();
      apps.set(origin, built);
    }
    return apps.get(origin)!;
  };

  const gate: OAuthGate = {
    async route(req, res, url) {
      if (!OAUTH_PATH.test(url.pathname)) return false;
      const origin = requestOrigin(req, options);
      const app = origin ? appFor(origin) : null;
      if (!app) {
        sendError(res, 404, 'Not found: sign-in is offered at the tunnel\'s https address and on this machine\'s loopback address only');
        return true;
      }
      await runApp(app.app, req, res);
      return true;
    },
    async authenticate(req, res, at) {
      if (at.staticTeammate && options.mode === 'both') return tokenCaller(at.staticTeammate);
      const origin = requestOrigin(req, options);
      const app = origin ? appFor(origin) : null;
      if (!app || at.pathToken) {
        // The /t/<token>/ form carries static tokens only, and an address without sign-in has no metadata to point to.
        if (options.mode === 'oauth') sendUnauthorized(res, 'invalid', 'this Harbor accepts sign-in only (auth: "oauth"): static tokens are refused');
        else sendUnauthorized(res, 'invalid');
        return null;
      }
      const auth = await runBearer(app.bearer(at), req, res);
      if (!auth) return null; // the SDK's check answered 401/403
      const teammate = auth.extra?.teammate;
      const client = typeof auth.extra?.clientName === 'string' ? auth.extra.clientName : auth.clientId;
      if (typeof teammate === 'string') return { name: teammate, scope: null, via: { kind: 'sign-in', client } };
      sendError(res, 401, 'Unauthorized: this token names no teammate', { code: -32001 });
      return null;
    },
  };

  return {
    gate,
    admin: {
      approvals: () => requests.pending(),
      decide: (id, approve) => requests.decide(id, approve),
      invite: async (name, withCode) => {
        const base = options.publicUrl() ?? `http://127.0.0.1:${options.localPort()}`;
        return { invite: await invites.invite(name, { withCode }), urls: [...servers()].map((server) => serverUrl(base, server)) };
      },
      invites: () => invites.list(),
      // A metadata document's client is in no clients table: its name comes from the cached document, or its host.
      grants: async () => (await grants.grants()).map((g) => (g.clientName === null && isClientIdUrl(g.clientId) ? { ...g, clientName: deps.clientDocuments.describe(g.clientId) } : g)),
      revokeTeammate: async (name) => {
        await requests.dropTeammate(name);
        return grants.revokeTeammate(name);
      },
    },
    prune: () => grants.prune(),
    onRevokedElsewhere: (listener) => options.stores.onTeammateRevoked?.(listener) ?? (() => {}),
  };
}

/**
 * Hands a raw node request to an express app and resolves once it has answered. Express answers on
 * the same objects (it swaps their prototypes for its own, which extend node's).
 */
function runApp(app: express.Express, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    res.once('close', () => resolve());
    app(req as express.Request, res as express.Response, (error?: unknown) => {
      const status = (error as { status?: number } | undefined)?.status;
      if (error && !(typeof status === 'number' && status < 500)) return reject(error as Error);
      // Parse errors of the SDK's body parsers (bad form, too large) are the client's: their status.
      sendError(res, status ?? 404, error ? `${status === 413 ? 'Payload Too Large' : 'Bad Request'}: ${(error as Error).message}` : 'Not found');
    });
  });
}

/** The SDK's bearer check: the AuthInfo it attached, or null once it has answered 401/403 itself. */
function runBearer(app: express.Express, req: IncomingMessage, res: ServerResponse): Promise<AuthInfo | null> {
  return new Promise((resolve, reject) => {
    const answered = () => resolve(null);
    res.once('close', answered);
    app(req as express.Request, res as express.Response, (error?: unknown) => {
      res.off('close', answered);
      if (error) return reject(error as Error);
      resolve((req as { auth?: AuthInfo }).auth ?? null);
    });
  });
}
