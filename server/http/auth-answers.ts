import type { ServerResponse } from 'node:http';
import { sendError } from './http-errors.ts';

/**
 * Harbor's answers to a caller without a valid static token, shaped so clients do not set off into an
 * OAuth flow that cannot succeed (DESIGN.md section 4): no `resource_metadata` in the challenge (clients
 * read it as "sign in here", and Claude Code then drops the static headers), and a clean 404 for every
 * OAuth discovery document. The words of the refusal ride in both the challenge's `error_description`
 * and the JSON-RPC error body, since clients print one or the other first.
 */

/** JSON-RPC code of every refusal for want of a valid token. */
export const UNAUTHORIZED_CODE = -32001;

export type TokenProblem = 'missing' | 'invalid';

const DESCRIPTIONS: Record<TokenProblem, string> = {
  missing: 'a Harbor token is required: send it as "Authorization: Bearer <token>" or in the URL as /t/<token>/',
  invalid: 'the Harbor token is invalid or revoked: ask the Harbor owner for a new one (harbor token add)',
};

/** A quoted-string of RFC 9110 (the description has no quote or backslash, but stay safe). */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * 401 with `WWW-Authenticate: Bearer realm="harbor", error="invalid_token", error_description="…"`; for
 * a missing token `Bearer realm="harbor"` alone (RFC 6750 section 3.1: a request without credentials gets
 * no error information), its words in the body.
 */
export function sendUnauthorized(res: ServerResponse, problem: TokenProblem, description = DESCRIPTIONS[problem]): void {
  const challenge = problem === 'invalid' ? `Bearer realm="harbor", error="invalid_token", error_description=${quoted(description)}` : 'Bearer realm="harbor"';
  sendError(res, 401, `Unauthorized: ${description}`, { headers: { 'WWW-Authenticate': challenge }, code: UNAUTHORIZED_CODE });
}

// RFC 9728 and RFC 8414 documents, at the root, path-suffixed (`/.well-known/x/<path>`) or, for OpenID
// Connect discovery, path-prefixed (`<path>/.well-known/openid-configuration`): every place a client
// looks. And the endpoints a client falls back to when it found none (the MCP authorization spec's
// defaults: /authorize, /token, /register at the origin), where it lands after Harbor refused its token.
const DISCOVERY = /(?:^|\/)\.well-known\/(?:oauth-protected-resource|oauth-authorization-server|openid-configuration)(?:\/|$)/;
const DEFAULT_ENDPOINTS = /^\/(?:authorize|token|register|revoke)\/?$/;

/** A path an OAuth client asks while looking for a sign-in Harbor does not offer. */
export function isOAuthPath(path: string): boolean {
  return DISCOVERY.test(path) || DEFAULT_ENDPOINTS.test(path);
}

/**
 * The 404 of every OAuth path when sign-in is off (or a document sign-in does not serve). Its words
 * lead with the token: mcp-remote and the Inspector, refused with a 401, try OAuth and print this body
 * when registration fails ("Dynamic Client Registration rejected (HTTP 404): …"), so it is the first
 * error line a teammate reads.
 */
export function sendNoOAuth(res: ServerResponse, signInOn: boolean): void {
  if (signInOn) {
    sendError(res, 404, 'Not found: Harbor publishes its sign-in metadata at /.well-known/oauth-authorization-server and /.well-known/oauth-protected-resource/<server>/mcp');
    return;
  }
  sendError(
    res,
    404,
    'The Harbor token is invalid or revoked (or none was sent): ask the Harbor owner for a new one (harbor token add). Not found: this Harbor offers no OAuth sign-in (auth: "tokens").',
    { code: UNAUTHORIZED_CODE },
  );
}
