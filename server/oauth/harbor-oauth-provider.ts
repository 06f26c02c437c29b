import type { Response } from 'express';
import type { AuthorizationParams, OAuthServerProvider } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  InvalidGrantError,
  InvalidTargetError,
  InvalidTokenError,
  TemporarilyUnavailableError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthClientInformationFull, OAuthTokenRevocationRequest, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { clientNameLookup, UNNAMED_CLIENT } from './client-name-lookup.ts';
import { GrantError, type GrantStore } from './grant-store.ts';
import { cleanClientName, describeClient, isClientIdUrl, type ClientMetadataDocuments } from './client-metadata-documents.ts';
import { canonicalResource } from './oauth-origin.ts';
import { checkRedirectUris } from './redirect-uri-policy.ts';
import { SignInRequestError, type SignInRequestStore } from './sign-in-requests.ts';
import { sendPage, signInForm } from './sign-in-page.ts';

/** The one scope Harbor grants: use of the MCP endpoints the teammate may reach. */
export const MCP_SCOPE = 'mcp';

export interface ProviderContext {
  grants: GrantStore;
  requests: SignInRequestStore;
  /** Resources Harbor serves at this origin: the origin itself (all servers) and each server's URL. */
  resources: (origin: string) => Set<string>;
  /** Clients whose client_id is the https URL of their metadata document (fetched, not registered). */
  clientDocuments: ClientMetadataDocuments;
}

/** The cookie that binds a sign-in request to the browser that opened it. */
export function signInCookieName(requestId: string): string {
  return `harbor_signin_${requestId}`;
}

/**
 * Harbor's side of the SDK's OAuth server (mcpAuthRouter does the protocol: parameter checks, PKCE
 * verification, redirect-URI matching with RFC 8252 loopback ports, rate limits, error shapes). This
 * provider keeps the state and asks the owner. One per origin, since issuer and audience are per origin.
 */
export function harborOAuthProvider(origin: string, ctx: ProviderContext): OAuthServerProvider {
  const issuer = new URL(origin).href;
  const clientsStore: OAuthRegisteredClientsStore = {
    getClient: async (clientId) => {
      if (isClientIdUrl(clientId)) return ctx.clientDocuments.get(clientId);
      return clientId.length > 200 ? undefined : ((await ctx.grants.getClient(clientId)) as OAuthClientInformationFull | undefined);
    },
    registerClient: async (client) => {
      checkRedirectUris(client.redirect_uris);
      // Every client is public: PKCE protects the code, and no client secret is stored or compared
      // (the SDK compares secrets with !==, not in constant time). RFC 7591 lets the server say so.
      const { client_secret: _secret, client_secret_expires_at: _expiry, ...rest } = client;
      // The name cleaned as the owner's approval shows it (no control or format characters): it reaches
      // the audit log, `harbor activity` and the Team tab too.
      const registered = { ...rest, token_endpoint_auth_method: 'none', client_name: cleanClientName(client.client_name) || UNNAMED_CLIENT } as OAuthClientInformationFull;
      await ctx.grants.saveClient(registered.client_id, registered as unknown as Record<string, unknown>);
      return registered;
    },
  };

  // A metadata document's client is named from the cache, never fetched here: a request with a valid
  // token must not wait on, or fail with, the client's web site. A registered client's name is cleaned
  // as at approval (cleanClientName), also for registrations stored before names were cleaned.
  const clientName = clientNameLookup(async (clientId) => {
    if (isClientIdUrl(clientId)) return { client_name: ctx.clientDocuments.describe(clientId) };
    const client = await clientsStore.getClient(clientId);
    return client && { client_name: cleanClientName(client.client_name) || UNNAMED_CLIENT };
  });

  const resourceFor = (requested: URL | undefined): string => {
    const resource = canonicalResource(requested ?? origin);
    if (!ctx.resources(origin).has(resource)) throw new InvalidTargetError(`this Harbor serves no resource ${resource}`);
    return resource;
  };

  return {
    clientsStore,

    async authorize(client: OAuthClientInformationFull, params: AuthorizationParams, res: Response): Promise<void> {
      const resource = resourceFor(params.resource);
      let request;
      try {
        request = await ctx.requests.open({
          clientId: client.client_id,
          // A metadata document's client: its claimed name with the host of its URL, for the owner to judge.
          clientName: describeClient(client),
          redirectUri: params.redirectUri,
          codeChallenge: params.codeChallenge,
          ...(params.state !== undefined ? { state: params.state } : {}),
          scopes: [MCP_SCOPE],
          resource,
          issuer,
        });
      } catch (error) {
        if (error instanceof SignInRequestError) throw new TemporarilyUnavailableError(error.message);
        throw error;
      }
      const secure = origin.startsWith('https:') ? '; Secure' : '';
      const cookie = `${signInCookieName(request.id)}=${request.browser}; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=${Math.ceil(ctx.requests.ttlMs / 1000) * 2}${secure}`;
      sendPage(res, 200, signInForm({ requestId: request.id, csrf: request.csrf, clientName: request.authorization.clientName, resource }), { 'Set-Cookie': cookie });
    },

    async challengeForAuthorizationCode(client: OAuthClientInformationFull, code: string): Promise<string> {
      const grant = await ctx.grants.peekCode(code, client.client_id);
      if (!grant) throw new InvalidGrantError('unknown, used or expired authorization code');
      return grant.codeChallenge;
    },

    async exchangeAuthorizationCode(client, code, _verifier, redirectUri, resource): Promise<OAuthTokens> {
      const grant = await redeem(() => ctx.grants.redeemCode(code, client.client_id));
      // The code is spent before these checks: a code presented with the wrong redirect or audience is gone.
      if (redirectUri !== undefined && redirectUri !== grant.redirectUri) throw new InvalidGrantError('redirect_uri differs from the authorization request');
      if (resource !== undefined && canonicalResource(resource) !== grant.resource) throw new InvalidTargetError('resource differs from the authorization request');
      // The name the owner approved goes with the tokens (a metadata document is cached in memory only).
      return tokenResponse(await redeem(() => ctx.grants.issueTokens({ ...grant, clientName: describeClient(client) }, grant.family)));
    },

    async exchangeRefreshToken(client, refreshToken, _scopes, resource): Promise<OAuthTokens> {
      const { grant, tokens } = await redeem(() => ctx.grants.rotateRefresh(refreshToken, client.client_id));
      if (resource !== undefined && canonicalResource(resource) !== grant.resource) {
        await ctx.grants.revoke(tokens.accessToken, client.client_id);
        throw new InvalidTargetError('resource differs from the one this sign-in was granted for');
      }
      return tokenResponse(tokens);
    },

    async verifyAccessToken(token: string): Promise<AuthInfo> {
      const access = await ctx.grants.verifyAccess(token);
      if (!access) throw new InvalidTokenError('invalid, expired or revoked access token');
      return {
        token,
        clientId: access.clientId,
        scopes: access.scopes,
        expiresAt: Math.floor(access.expiresAt / 1000),
        resource: new URL(access.resource),
        // The client's name goes with the teammate: the audit log records how each call came in. The
        // name stored with the grant first (what the owner approved, and it survives a restart);
        // grants from before it was stored: the clients table or the document cache.
        extra: { teammate: access.teammate, clientName: access.clientName ?? (await clientName(access.clientId)) },
      };
    },

    async revokeToken(client: OAuthClientInformationFull, request: OAuthTokenRevocationRequest): Promise<void> {
      await ctx.grants.revoke(request.token, client.client_id);
    },
  };
}

async function redeem<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof GrantError) throw new InvalidGrantError(error.message);
    throw error;
  }
}

function tokenResponse(tokens: { accessToken: string; refreshToken: string; expiresIn: number }): OAuthTokens {
  return { access_token: tokens.accessToken, token_type: 'Bearer', expires_in: tokens.expiresIn, refresh_token: tokens.refreshToken, scope: MCP_SCOPE };
}
