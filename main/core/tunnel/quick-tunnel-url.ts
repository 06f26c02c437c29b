/**
 * Learning what cloudflared did from outside: the quick-tunnel URL and whether the edge connection is
 * up. The metrics server (`--metrics`) answers `GET /quicktunnel` with `{"hostname": …}` and `GET /ready`
 * with 200/503 and `{"status","readyConnections","connectorId"}`. The stderr box line is the fallback
 * for the URL, because the metrics server only listens once the tunnel has been created.
 */

export const QUICK_TUNNEL_URL_PATTERN = /https:\/\/[a-z0-9-]+\.trycloudflare\.com/;

export const DEFAULT_TUNNEL_TIMEOUT_MS = 30_000;
const DEFAULT_POLL_MS = 200;
/** Bounds one probe, so a wedged metrics server cannot stall a wait past its deadline by much. */
const PROBE_TIMEOUT_MS = 2_000;

/** The quick-tunnel URL in one line of cloudflared's log, if any. */
export function quickTunnelUrlFromLine(line: string): string | undefined {
  return QUICK_TUNNEL_URL_PATTERN.exec(line)?.[0];
}

export class TunnelTimeoutError extends Error {
  override readonly name = 'TunnelTimeoutError';
  readonly code = 'TUNNEL_TIMEOUT';
  readonly waitingFor: 'url' | 'ready';
  constructor(waitingFor: 'url' | 'ready', message: string) {
    super(message);
    this.waitingFor = waitingFor;
  }
}

export interface Readiness {
  ready: boolean;
  readyConnections: number;
}

function probeSignal(signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** `https://<hostname>` from GET /quicktunnel; undefined while the metrics server is not up or has no hostname (named tunnels). */
export async function fetchQuickTunnelUrl(metricsUrl: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const response = await fetch(new URL('/quicktunnel', metricsUrl), { signal: probeSignal(signal) });
    if (!response.ok) return undefined;
    const body = (await response.json()) as { hostname?: unknown };
    if (typeof body.hostname !== 'string' || body.hostname === '') return undefined;
    return body.hostname.startsWith('https://') ? body.hostname : `https://${body.hostname}`;
  } catch {
    signal?.throwIfAborted();
    return undefined;
  }
}

/** GET /ready; undefined when the metrics server does not answer (not started yet, dead or wedged). */
export async function fetchReadiness(metricsUrl: string, signal?: AbortSignal): Promise<Readiness | undefined> {
  try {
    const response = await fetch(new URL('/ready', metricsUrl), { signal: probeSignal(signal) });
    const body = (await response.json().catch(() => ({}))) as { readyConnections?: unknown };
    const readyConnections = typeof body.readyConnections === 'number' ? body.readyConnections : 0;
    return { ready: response.status === 200, readyConnections };
  } catch {
    signal?.throwIfAborted();
    return undefined;
  }
}

/** Subscribes to cloudflared's log lines (replaying the ones already seen); returns the unsubscribe. */
export type LineSource = (listener: (line: string) => void) => () => void;

export interface WaitOptions {
  metricsUrl: string;
  timeoutMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  /** cloudflared's stderr, for the URL fallback and for a useful timeout message. */
  lines?: LineSource;
}

/** Sleeps `ms`, or less if `wake` is called or `signal` aborts. */
function nap(ms: number, signal: AbortSignal | undefined, setWake: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    setWake(done);
  });
}

function lastLineNote(line: string | undefined): string {
  return line ? ` Last log line: ${line.trim()}` : '';
}

/** Resolves with the quick tunnel's public URL, from /quicktunnel or the log, whichever comes first. */
export async function waitForQuickTunnelUrl(options: WaitOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let fromLog: string | undefined;
  let lastLine: string | undefined;
  let wake = (): void => {};
  const unsubscribe = options.lines?.((line) => {
    lastLine = line;
    fromLog ??= quickTunnelUrlFromLine(line);
    if (fromLog) wake();
  });
  try {
    // Bounded by the deadline: every pass either returns, throws, or sleeps until closer to it.
    for (;;) {
      options.signal?.throwIfAborted();
      if (fromLog) return fromLog;
      const fromMetrics = await fetchQuickTunnelUrl(options.metricsUrl, options.signal);
      if (fromMetrics) return fromMetrics;
      if (fromLog) return fromLog;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TunnelTimeoutError(
          'url',
          `cloudflared gave no quick-tunnel URL within ${seconds(timeoutMs)} s (neither ${new URL('/quicktunnel', options.metricsUrl).href} nor its log). ` +
            `Check that this machine can reach api.trycloudflare.com.${lastLineNote(lastLine)}`,
        );
      }
      await nap(Math.min(options.pollMs ?? DEFAULT_POLL_MS, left), options.signal, (w) => (wake = w));
    }
  } finally {
    unsubscribe?.();
  }
}

/** Resolves once GET /ready answers 200 (at least one connection to Cloudflare's edge). */
export async function waitForReady(options: WaitOptions): Promise<Readiness> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let lastLine: string | undefined;
  const unsubscribe = options.lines?.((line) => (lastLine = line));
  try {
    let last: Readiness | undefined;
    for (;;) {
      options.signal?.throwIfAborted();
      last = await fetchReadiness(options.metricsUrl, options.signal);
      if (last?.ready) return last;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = last ? `GET /ready answered 503 with ${last.readyConnections} connections` : 'its metrics server never answered';
        throw new TunnelTimeoutError(
          'ready',
          `cloudflared did not connect to Cloudflare's edge within ${seconds(timeoutMs)} s (${seen}).${lastLineNote(lastLine)}`,
        );
      }
      await nap(Math.min(options.pollMs ?? DEFAULT_POLL_MS, left), options.signal, () => {});
    }
  } finally {
    unsubscribe?.();
  }
}

function seconds(ms: number): number {
  return Number((ms / 1000).toFixed(1));
}
