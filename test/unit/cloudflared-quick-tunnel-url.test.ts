import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import {
  fetchQuickTunnelUrl,
  fetchReadiness,
  quickTunnelUrlFromLine,
  TunnelTimeoutError,
  waitForQuickTunnelUrl,
  waitForReady,
  type LineSource,
} from '../../main/core/tunnel/quick-tunnel-url.ts';

// A fake metrics server whose answers each test sets: the only thing here that is not real cloudflared.
let server: Server;
let metricsUrl: string;
let answer: { quicktunnel: [number, unknown]; ready: [number, unknown] };

before(async () => {
  server = createServer((req, res) => {
    const [status, body] = req.url === '/quicktunnel' ? answer.quicktunnel : req.url === '/ready' ? answer.ready : [404, {}];
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  metricsUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => server.close());

/** A port nothing listens on: the metrics server of a cloudflared that has not created its tunnel yet. */
async function deadUrl(): Promise<string> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

function linesOf(initial: string[]): { source: LineSource; push: (line: string) => void } {
  const listeners = new Set<(line: string) => void>();
  const seen = [...initial];
  return {
    source: (listener) => {
      for (const line of seen) listener(line);
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    push: (line) => {
      seen.push(line);
      for (const listener of listeners) listener(line);
    },
  };
}

test('the URL is read from the real log box line', () => {
  const box = [
    '2025-08-01T10:00:00Z INF +--------------------------------------------------------------------------------------------+',
    '2025-08-01T10:00:00Z INF |  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |',
    '2025-08-01T10:00:00Z INF |  https://seasonal-deck-organisms-sf.trycloudflare.com                                       |',
  ];
  assert.equal(quickTunnelUrlFromLine(box[0] as string), undefined);
  assert.equal(quickTunnelUrlFromLine(box[1] as string), undefined);
  assert.equal(quickTunnelUrlFromLine(box[2] as string), 'https://seasonal-deck-organisms-sf.trycloudflare.com');
  assert.equal(quickTunnelUrlFromLine('INF Requesting new quick Tunnel on trycloudflare.com...'), undefined);
  assert.equal(quickTunnelUrlFromLine('see https://developers.cloudflare.com/cloudflare-one/'), undefined);
});

test('GET /quicktunnel gives https://hostname; an empty hostname (named tunnel) gives nothing', async () => {
  answer = { quicktunnel: [200, { hostname: 'a-b-c.trycloudflare.com' }], ready: [503, {}] };
  assert.equal(await fetchQuickTunnelUrl(metricsUrl), 'https://a-b-c.trycloudflare.com');
  answer.quicktunnel = [200, { hostname: '' }];
  assert.equal(await fetchQuickTunnelUrl(metricsUrl), undefined);
  assert.equal(await fetchQuickTunnelUrl(await deadUrl()), undefined);
});

test('GET /ready: 200 is ready, 503 is alive but not connected, no answer is undefined', async () => {
  answer = { quicktunnel: [200, { hostname: '' }], ready: [200, { status: 200, readyConnections: 4, connectorId: 'x' }] };
  assert.deepEqual(await fetchReadiness(metricsUrl), { ready: true, readyConnections: 4 });
  answer.ready = [503, { status: 503, readyConnections: 0, connectorId: 'x' }];
  assert.deepEqual(await fetchReadiness(metricsUrl), { ready: false, readyConnections: 0 });
  assert.equal(await fetchReadiness(await deadUrl()), undefined);
});

test('the log line is enough when the metrics server does not answer', async () => {
  const lines = linesOf(['INF Requesting new quick Tunnel on trycloudflare.com...']);
  const waiting = waitForQuickTunnelUrl({ metricsUrl: await deadUrl(), lines: lines.source, timeoutMs: 5_000, pollMs: 20 });
  lines.push('INF |  https://late-blue-fox.trycloudflare.com  |');
  assert.equal(await waiting, 'https://late-blue-fox.trycloudflare.com');
});

test('no URL by the deadline: TunnelTimeoutError with the endpoint and the last log line', async () => {
  const url = await deadUrl();
  const lines = linesOf(['INF Requesting new quick Tunnel on trycloudflare.com...']);
  await assert.rejects(waitForQuickTunnelUrl({ metricsUrl: url, lines: lines.source, timeoutMs: 150, pollMs: 20 }), (error: unknown) => {
    assert.ok(error instanceof TunnelTimeoutError);
    assert.equal(error.code, 'TUNNEL_TIMEOUT');
    assert.equal(error.waitingFor, 'url');
    assert.ok(error.message.includes(`${url}/quicktunnel`));
    assert.match(error.message, /0\.2 s|0\.1 s/);
    assert.match(error.message, /Last log line: INF Requesting new quick Tunnel/);
    return true;
  });
});

test('waitForReady times out on a 503 and says so; an abort ends the wait at once', async () => {
  answer = { quicktunnel: [200, { hostname: '' }], ready: [503, { status: 503, readyConnections: 0 }] };
  await assert.rejects(waitForReady({ metricsUrl, timeoutMs: 100, pollMs: 20 }), /answered 503 with 0 connections/);
  const controller = new AbortController();
  const waiting = waitForReady({ metricsUrl, timeoutMs: 10_000, pollMs: 20, signal: controller.signal });
  controller.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
});
