/**
 * HARBOR_PUBLIC_URL: where teammates reach Harbor through a reverse proxy (container mode, behind the
 * exported nginx or an ingress), e.g. `https://mcp.example.com`. With it, OAuth's issuer and resource
 * metadata, the sign-in pages, WWW-Authenticate and every connection URL Harbor hands out name this
 * address instead of the replica's own (a loopback or pod address nobody outside can reach).
 *
 * An origin only: Harbor serves at the root of its host name, and nginx forwards every path as is, so
 * a path would be advertised but not served. A query, a fragment or credentials are typos, said at
 * start rather than found by a teammate whose sign-in fails.
 */
export const PUBLIC_URL_VARIABLE = 'HARBOR_PUBLIC_URL';

export class PublicUrlError extends Error {
  override name = 'PublicUrlError';
}

/** The configured public origin (`https://mcp.example.com`), or null when unset or empty; throws PublicUrlError naming the problem. */
export function parsePublicUrl(raw: string | undefined, name = PUBLIC_URL_VARIABLE): string | null {
  const value = raw?.trim();
  if (!value) return null;
  // Echoed to help with a typo, but never what may be a password: a `user:password@` part is masked
  // (also where the URL does not parse, so the check below for credentials never runs).
  const shown = value.replace(/[^/@]*@/, '***@').slice(0, 200);
  const refuse = (why: string) => new PublicUrlError(`${name} must be ${why}, like https://mcp.example.com; got "${shown}"`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw refuse('an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse('an https:// (or http://) URL');
  // Not echoed: what was typed there may be a password.
  if (url.username || url.password) throw new PublicUrlError(`${name} must be a URL without a user name or password, like https://mcp.example.com`);
  if (url.search || value.includes('?')) throw refuse('a URL without a query (?…)');
  if (url.hash || value.includes('#')) throw refuse('a URL without a fragment (#…)');
  if (url.pathname !== '/') throw refuse('the address Harbor is served at, without a path (serve Harbor at the root of its own host name)');
  return url.origin;
}

/**
 * Whether sign-in can be offered at this origin: the MCP SDK (RFC 8414) takes a plain-http issuer only
 * for localhost and 127.0.0.1, so a public URL behind a proxy needs TLS in front for teammates to sign in.
 */
export function signInPossibleAt(origin: string): boolean {
  const url = new URL(origin);
  return url.protocol === 'https:' || url.hostname === 'localhost' || url.hostname === '127.0.0.1';
}
