import type { IncomingMessage } from 'node:http';
import { isForwarded, isLoopbackPeer } from '../http/request-guard.ts';

/**
 * Which of Harbor's own origins a request came to: this machine's (`http://127.0.0.1:<port>` and its
 * loopback aliases) or the tunnel's public URL. The issuer, the metadata and the token audience are
 * per origin. The Host header alone never makes an origin: it must name one Harbor serves, so a
 * forged Host cannot make the metadata point elsewhere (RequestGuard checks it too, but not when
 * Harbor is bound to a LAN address). Null: OAuth is not offered there (plain http on a LAN).
 */
export interface OriginSources {
  localPort: () => number;
  publicUrl: () => string | null;
}

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

export function requestOrigin(req: IncomingMessage, sources: OriginSources): string | null {
  const host = req.headers.host?.toLowerCase();
  if (!host) return null;
  const publicUrl = sources.publicUrl();
  if (publicUrl) {
    const pub = new URL(publicUrl);
    if (host === pub.host || host === `${pub.hostname}:443`) return pub.origin;
  }
  if (isLoopbackPeer(req) && !isForwarded(req) && LOOPBACK_HOSTS.some((name) => host === `${name}:${sources.localPort()}`)) return `http://${host}`;
  return null;
}

/** The form every resource is compared in: no fragment, no trailing slash (as the SDK's bearer check compares). */
export function canonicalResource(value: string | URL): string {
  const url = new URL(String(value));
  url.hash = '';
  return url.href.replace(/\/$/, '');
}

/** The resource a server's endpoints share: its Streamable HTTP URL; the legacy SSE pair is its own. */
export function serverResource(origin: string, kind: string, server: string): string {
  return `${origin}/${kind === 'messages' ? 'sse' : kind}/${server}`;
}

/** Address for rate limits: through the tunnel, the visitor's (Cloudflare's header; the peer is the connector). */
export function clientAddress(req: IncomingMessage): string {
  if (isLoopbackPeer(req) && isForwarded(req)) {
    const visitor = req.headers['cf-connecting-ip'] ?? req.headers['x-forwarded-for'];
    const first = (Array.isArray(visitor) ? visitor[0] : visitor)?.split(',')[0]?.trim();
    if (first) return first.slice(0, 64);
  }
  return req.socket.remoteAddress ?? 'unknown';
}
