import type { IncomingMessage } from 'node:http';
import { serverPath } from '../access/server-url.ts';
import { isForwarded, isLoopbackPeer } from '../http/request-guard.ts';

/**
 * Which of Harbor's own origins a request came to: this machine's (`http://127.0.0.1:<port>` and its
 * loopback aliases), the tunnel's public URL, or HARBOR_PUBLIC_URL behind a reverse proxy. The issuer,
 * the metadata and the token audience are per origin. The Host header alone never makes an origin: it
 * must name one Harbor serves, so a forged Host cannot make the metadata point elsewhere (RequestGuard
 * checks it too, but not when Harbor is bound to a LAN address). Null: OAuth is not offered there
 * (plain http on a LAN).
 */
export interface OriginSources {
  localPort: () => number;
  publicUrl: () => string | null;
  /**
   * HARBOR_PUBLIC_URL (access/public-url.ts): the origin of every request but this machine's own
   * loopback ones, whatever its Host says. The operator set it, so no header can move it; the proxy's
   * X-Forwarded-Host/-Proto are not read on purpose (a client can send them too, and behind an ALB and
   * nginx they name whichever hop set them last), nor is the Host (a proxy may rewrite it).
   */
  configuredUrl?: string | null;
}

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

export function requestOrigin(req: IncomingMessage, sources: OriginSources): string | null {
  const host = req.headers.host?.toLowerCase();
  // This machine's own user keeps the loopback origin (the metadata must name the URL its client used).
  if (host && isLoopbackPeer(req) && !isForwarded(req) && LOOPBACK_HOSTS.some((name) => host === `${name}:${sources.localPort()}`)) return `http://${host}`;
  if (sources.configuredUrl) return sources.configuredUrl;
  if (!host) return null;
  const publicUrl = sources.publicUrl();
  if (publicUrl) {
    const pub = new URL(publicUrl);
    if (host === pub.host || host === `${pub.hostname}:443`) return pub.origin;
  }
  return null;
}

/** The form every resource is compared in: no fragment, no trailing slash (as the SDK's bearer check compares). */
export function canonicalResource(value: string | URL): string {
  const url = new URL(String(value));
  url.hash = '';
  return url.href.replace(/\/$/, '');
}

/**
 * The resource a server's endpoints share: its Streamable HTTP URL (`/<name>/mcp`); the legacy SSE pair
 * is its own (`/<name>/sse`). A request by the first form (`/mcp/<name>`) is the resource of that URL, as
 * its client computed it; a grant for either form of the same endpoint is good at both (bearerApp).
 */
export function serverResource(origin: string, kind: string, server: string, kindFirst = false): string {
  return `${origin}${serverPath(server, { endpoint: kind === 'mcp' ? 'mcp' : 'sse', kindFirst })}`;
}

/** Both forms of one server endpoint's resource (`/<name>/mcp` and `/mcp/<name>`). */
export function resourceAliases(origin: string, kind: string, server: string): string[] {
  return [serverResource(origin, kind, server), serverResource(origin, kind, server, true)];
}

/**
 * Address for rate limits. Only a proxy on this machine (the tunnel's connector, or the exported nginx)
 * is trusted to name the visitor, and only by what it sets itself: Cloudflare's edge overwrites
 * Cf-Connecting-IP (nginx.conf clears it), and a proxy appends the peer it saw to X-Forwarded-For, so
 * the last entry is the one it vouches for; the entries before it are the visitor's own words (a
 * client rotating them would get a fresh allowance per request).
 */
export function clientAddress(req: IncomingMessage): string {
  if (isLoopbackPeer(req) && isForwarded(req)) {
    const visitor = headerValue(req.headers['cf-connecting-ip']) || headerValue(req.headers['x-forwarded-for']).split(',').at(-1)?.trim();
    if (visitor) return visitor.slice(0, 64);
  }
  return req.socket.remoteAddress ?? 'unknown';
}

function headerValue(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value.at(-1) : value)?.trim() ?? '';
}
