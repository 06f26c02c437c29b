import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerRoute } from '../access/server-url.ts';
import { bearerToken } from '../auth/bearer.ts';
import type { ConnectedVia } from '../auth/connected-via.ts';
import type { Teammate, TokenStore } from '../auth/token-store.ts';
import { sendUnauthorized } from './auth-answers.ts';
import type { Guard } from './route-table.ts';

/** Handed in by the host like the admin route, so server/oauth (which builds on http/) is not imported from here. */
export interface OAuthGate {
  /** Answers the OAuth endpoints, their metadata and the sign-in pages; false for any other path. */
  route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** Who is calling, per the auth mode (a static token, or the SDK's bearer check with audience); null: it answered 401. */
  authenticate(
    req: IncomingMessage,
    res: ServerResponse,
    at: { kind: string; server: string; kindFirst: boolean; pathToken: boolean; staticTeammate: Teammate | null },
  ): Promise<AuthenticatedTeammate | null>;
}

/** Who is calling, and how they proved it (for the audit log and the Team tab). */
export type AuthenticatedTeammate = Pick<Teammate, 'name' | 'scope'> & { via: ConnectedVia };

/** A static token's holder: the token is named by the teammate it was issued to. */
export function tokenCaller(teammate: Pick<Teammate, 'name' | 'scope'>): AuthenticatedTeammate {
  return { name: teammate.name, scope: teammate.scope, via: { kind: 'token', token: teammate.name } };
}

/** A request to a hosted server's endpoint, as its path names it (server-url.ts). */
export interface EndpointRequest {
  url: URL;
  route: ServerRoute;
}

export interface Authenticated extends EndpointRequest {
  teammate: AuthenticatedTeammate;
}

/**
 * Who is calling: the token from `/t/<token>/` or `Authorization: Bearer`, checked against the static
 * tokens, then (with Sign in with Harbor) by the gate, which also answers the 401 of its mode; without
 * it, a 401 worded for a missing or an invalid token (auth-answers.ts).
 */
export function authenticate(tokens: TokenStore, oauth: OAuthGate | undefined): Guard<EndpointRequest, Authenticated> {
  return (req, res, request) => {
    const { pathToken, endpoint: kind, server, kindFirst } = request.route;
    const token = pathToken !== undefined ? safeDecode(pathToken) : bearerToken(req);
    const staticTeammate = token ? tokens.verify(token) : null;
    if (oauth) {
      const at = { kind, server, kindFirst, pathToken: pathToken !== undefined, staticTeammate };
      return oauth.authenticate(req, res, at).then((teammate) => (teammate ? { ...request, teammate } : null));
    }
    if (staticTeammate) return { ...request, teammate: tokenCaller(staticTeammate) };
    sendUnauthorized(res, token ? 'invalid' : 'missing');
    return null;
  };
}

/** A percent-decoded path segment, or null when malformed (`%E0%A4%A`). */
export function safeDecode(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

/**
 * Sign in with Harbor's own paths (OAuth endpoints, their metadata, the sign-in pages), answered by
 * the gate before the table: none of them is a path of the table's, so the order changes no answer.
 * Without sign-in, every request passes on.
 */
export function oauthEndpoints<Place extends { url: URL }>(oauth: OAuthGate | undefined): Guard<Place, Place> {
  if (!oauth) return (_req, _res, place) => place;
  return async (req, res, place) => ((await oauth.route(req, res, place.url)) ? null : place);
}
