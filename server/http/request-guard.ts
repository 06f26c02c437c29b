import type { IncomingMessage } from 'node:http';

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** Headers a tunnel or reverse proxy adds: a request carrying any of them came from outside. */
export const FORWARDING_HEADERS = ['cf-connecting-ip', 'cf-ray', 'cf-visitor', 'x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip'];

/** The TCP peer is this machine (a tunnel's connector is too: see isForwarded). */
export function isLoopbackPeer(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress;
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

export function isForwarded(req: IncomingMessage): boolean {
  return FORWARDING_HEADERS.some((header) => req.headers[header] !== undefined);
}

/**
 * DNS-rebinding protection: a page on evil.example that resolves to 127.0.0.1 still sends its own
 * Host and Origin, so both must name this server (or the tunnel's public hostname while sharing).
 */
export class RequestGuard {
  #port = 0;
  readonly #extraHosts = new Set<string>();
  readonly #extraOrigins: Set<string>;
  readonly #checkHost: boolean;

  constructor(options: { bindHost: string; allowedOrigins?: string[] }) {
    this.#extraOrigins = new Set((options.allowedOrigins ?? []).map((o) => o.replace(/\/$/, '').toLowerCase()));
    // Bound to a LAN or all interfaces (a deployed bundle behind a proxy), the Host is the proxy's to police.
    this.#checkHost = LOOPBACK_NAMES.includes(options.bindHost) || options.bindHost === '::1';
  }

  setPort(port: number): void {
    this.#port = port;
  }

  /** Allows a public hostname (the tunnel's), e.g. `abc.trycloudflare.com`. */
  allowHost(hostname: string): void {
    this.#extraHosts.add(hostname.toLowerCase());
  }

  /** Allows one browser Origin exactly (HARBOR_PUBLIC_URL: the sign-in form posts from there, https or not). */
  allowOrigin(origin: string): void {
    this.#extraOrigins.add(origin.replace(/\/$/, '').toLowerCase());
  }

  disallowHost(hostname: string): void {
    this.#extraHosts.delete(hostname.toLowerCase());
  }

  hostAllowed(hostHeader: string | undefined): boolean {
    if (!this.#checkHost) return true;
    if (!hostHeader) return false;
    const host = hostHeader.toLowerCase();
    if (this.#extraHosts.has(host) || this.#extraHosts.has(host.replace(/:443$/, ''))) return true;
    return LOOPBACK_NAMES.some((name) => host === `${name}:${this.#port}`);
  }

  /** No Origin (non-browser clients) is fine; a present one must be ours. */
  originAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true;
    const normalised = origin.replace(/\/$/, '').toLowerCase();
    if (this.#extraOrigins.has(normalised)) return true;
    let url: URL;
    try {
      url = new URL(normalised);
    } catch {
      return false;
    }
    if (url.protocol === 'https:' && this.#extraHosts.has(url.hostname)) return true;
    if (url.protocol !== 'http:') return false;
    return LOOPBACK_NAMES.includes(url.hostname) && Number(url.port) === this.#port;
  }

  check(req: IncomingMessage): { ok: true } | { ok: false; reason: string } {
    if (!this.hostAllowed(req.headers.host)) return { ok: false, reason: 'Host header not allowed' };
    if (!this.originAllowed(req.headers.origin)) return { ok: false, reason: 'Origin not allowed' };
    return { ok: true };
  }
}
