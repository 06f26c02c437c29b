import express, { type RequestHandler } from 'express';
import { createOAuthMetadata, mcpAuthRouter, type AuthRouterOptions } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { metadataHandler } from '@modelcontextprotocol/sdk/server/auth/handlers/metadata.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { OAuthServerProvider } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import { harborOAuthProvider, MCP_SCOPE, type ProviderContext } from './harbor-oauth-provider.ts';
import { parseServerPath } from '../access/server-url.ts';
import { canonicalResource, clientAddress, resourceAliases, serverResource } from './oauth-origin.ts';
import { signInRoutes, type SignInRouteDeps } from './sign-in-routes.ts';

/** Per endpoint: a window and a count per visitor address (the SDK's defaults when not given). */
export interface OAuthRateLimits {
  windowMs: number;
  authorize: number;
  token: number;
  register: number;
  revoke: number;
  /** Sign-in form posts per visitor: this many at once, then this many a minute (names and codes cannot be tried in bulk). */
  signInBurst: number;
  signInPerMinute: number;
}

export const DEFAULT_RATE_LIMITS: OAuthRateLimits = { windowMs: 15 * 60_000, authorize: 100, token: 50, register: 20, revoke: 50, signInBurst: 5, signInPerMinute: 5 };

export interface OriginAppDeps extends ProviderContext, SignInRouteDeps {
  servers: () => Set<string>;
  rateLimits: OAuthRateLimits;
}

/** One server endpoint, as the request named it (`kindFirst`: by the first form, `/mcp/<name>`). */
export interface EndpointAt {
  kind: string;
  server: string;
  kindFirst: boolean;
}

export interface OriginApp {
  /** The SDK's authorization server, the per-server resource metadata and the sign-in pages. */
  app: express.Express;
  /** The SDK's bearer check for one server endpoint's resource (audience), as an app of its own. */
  bearer(at: EndpointAt): express.Express;
}

/**
 * Everything OAuth at one origin. Built on the SDK's router; Harbor adds the resource metadata of each
 * hosted server (RFC 9728 path-suffixed form) and the sign-in routes. Throws when the SDK refuses the
 * origin as an issuer (plain http other than localhost / 127.0.0.1).
 */
export function originApp(origin: string, deps: OriginAppDeps): OriginApp {
  const provider = harborOAuthProvider(origin, deps);
  const limit = (max: number) => ({
    windowMs: deps.rateLimits.windowMs,
    max,
    // Keyed by the visitor (the tunnel's connector is the TCP peer of everyone) and without the
    // library's proxy-setup warnings, which assume express's trust-proxy setting.
    keyGenerator: (req: express.Request) => clientAddress(req),
    validate: false,
  });
  const routerOptions: AuthRouterOptions = {
    provider,
    issuerUrl: new URL(origin),
    resourceServerUrl: new URL(origin),
    scopesSupported: [MCP_SCOPE],
    resourceName: 'Harbor',
    authorizationOptions: { rateLimit: limit(deps.rateLimits.authorize) },
    tokenOptions: { rateLimit: limit(deps.rateLimits.token) },
    clientRegistrationOptions: { rateLimit: limit(deps.rateLimits.register) },
    revocationOptions: { rateLimit: limit(deps.rateLimits.revoke) },
  };
  const app = plainApp();
  app.use('/.well-known/oauth-protected-resource/:first/:second', resourceMetadata(origin, deps.servers));
  // The SDK's metadata as it builds it, plus what it cannot say: URL client_ids are fetched
  // (client-metadata-documents.ts). Answered ahead of the router's own copy of this path.
  app.use('/.well-known/oauth-authorization-server', metadataHandler({ ...createOAuthMetadata(routerOptions), client_id_metadata_document_supported: true }));
  app.use(mcpAuthRouter(routerOptions));
  app.use(signInRoutes(deps));

  const bearers = new Map<string, express.Express>();
  return {
    app,
    bearer(at) {
      const resource = serverResource(origin, at.kind, at.server, at.kindFirst);
      let gate = bearers.get(resource);
      if (!gate) {
        gate = bearerApp(origin, resource, resourceAliases(origin, at.kind, at.server), provider);
        // Bounded by servers × kinds; a cleared map only costs a rebuild.
        if (bearers.size > 500) bearers.clear();
        bearers.set(resource, gate);
      }
      return gate;
    },
  };
}

function plainApp(): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  return app;
}

/**
 * RFC 9728 for `/<server>/mcp` and `/<server>/sse` (and the first form, `/mcp/<server>`): the URL the
 * client connected to is the resource, as it computed it.
 */
function resourceMetadata(origin: string, servers: () => Set<string>): RequestHandler {
  const handlers = new Map<string, RequestHandler>();
  const issuer = new URL(origin).href;
  return (req, res, next) => {
    const { first, second } = req.params as { first: string; second: string };
    const hosted = servers();
    const route = parseServerPath(`/${first}/${second}`, (name) => hosted.has(name));
    if (!route || route.endpoint === 'messages' || !hosted.has(route.server)) return next();
    const { endpoint: kind, server } = route;
    const resource = serverResource(origin, kind, server, route.kindFirst);
    let handler = handlers.get(resource);
    if (!handler) {
      handler = metadataHandler({ resource, authorization_servers: [issuer], scopes_supported: [MCP_SCOPE], resource_name: `Harbor: ${server}` });
      if (handlers.size > 500) handlers.clear();
      handlers.set(resource, handler);
    }
    handler(req, res, next);
  };
}

/**
 * `aliases`: both forms of the endpoint's resource. A grant for the other form (`/mcp/<name>` for
 * `/<name>/mcp`) is good here too, so a teammate who signed in on the old URL keeps working on the new
 * one, and back; so is a grant for the whole origin (a client that found only the root metadata).
 */
function bearerApp(origin: string, resource: string, aliases: string[], provider: OAuthServerProvider): express.Express {
  const metadataUrl = `${origin}/.well-known/oauth-protected-resource${new URL(resource).pathname}`;
  const sameEndpoint = new Set([...aliases, origin].map((r) => canonicalResource(r)));
  const app = plainApp();
  app.use(
    requireBearerAuth({
      verifier: {
        verifyAccessToken: async (token) => {
          const info = await provider.verifyAccessToken(token);
          return info.resource && sameEndpoint.has(canonicalResource(info.resource)) ? { ...info, resource: new URL(resource) } : info;
        },
      },
      requiredScopes: [MCP_SCOPE],
      resourceMetadataUrl: metadataUrl,
      expectedResource: new URL(resource),
    }),
  );
  return app;
}
