import type { HostedServer } from '../gateway/hosted-server.ts';
import type { RequestPlace } from './place-guards.ts';
import { sendJson } from './http-errors.ts';
import type { Handler } from './route-table.ts';

/** Extra content for GET /health: `state` for everyone, `reasons` and the rest for loopback callers only. */
export type HealthSource = () => { state: string; reasons: string[]; [key: string]: unknown };

/**
 * GET /health (any method answers it). Teammates and load balancers probe it through the tunnel: the
 * colour only. The reasons name processes and figures, so only the machine's own user sees them.
 */
export function healthAnswer(options: { servers: ReadonlyMap<string, HostedServer>; health?: HealthSource | undefined; now?: () => number }): Handler<RequestPlace> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  return (_req, res, place) => {
    const health = options.health?.() ?? { state: 'green', reasons: [] };
    const body: Record<string, unknown> = { status: health.state, uptimeSeconds: Math.round((now() - startedAt) / 1000) };
    if (place.local) {
      Object.assign(body, health);
      body.servers = [...options.servers.values()].map((s) => ({ name: s.name, up: s.status().upstreams.some((u) => u.up) || s.mode === 'isolated' }));
    }
    sendJson(res, 200, body);
  };
}

/** Prometheus exposition for GET /metrics; the route lets loopback scrapers only reach it. */
export function metricsAnswer(metrics: { text: () => Promise<string>; contentType: string }): Handler<RequestPlace> {
  return async (_req, res) => {
    const text = await metrics.text();
    res.writeHead(200, { 'Content-Type': metrics.contentType });
    res.end(text);
  };
}
