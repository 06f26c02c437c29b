/**
 * Route-table micro-benchmark (issue 13): the per-request cost of dispatching `POST /<name>/mcp`
 * through the host's hand-written table (server/http/route-table.ts) against express's Router, both
 * running the same guards (URL, Host/Origin, token, server, scope, rate, admitted) in front of an
 * empty handler, in one process, no sockets. What it measures is the routing, not MCP.
 *
 *   node bench/route-dispatch.ts [--requests 200000] [--rounds 5]
 *
 * Prints ns per request for each (the median round), beside the same steps called inline with no
 * table (the shape of route() before), and the RSS express adds when loaded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { TokenBucket } from '../server/access/token-bucket.ts';
import type { TokenStore } from '../server/auth/token-store.ts';
import type { HostedServer } from '../server/gateway/hosted-server.ts';
import { admitted, hostedServer, inScope, withinRate, type ServerCall } from '../server/http/access-guards.ts';
import { authenticate, type Authenticated } from '../server/http/auth-guards.ts';
import { allowedHostAndOrigin, readPlace, type RequestPlace } from '../server/http/place-guards.ts';
import { RequestGuard } from '../server/http/request-guard.ts';
import { byMethod, exactPath, guarded, pathUnder, route, routeTable, type Guard, type Handler } from '../server/http/route-table.ts';
import { serverEndpointPath } from '../server/http/server-endpoints.ts';

const { values: args } = parseArgs({ options: { requests: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } } });
const REQUESTS = Number(args.requests);
const ROUNDS = Number(args.rounds);

const servers = new Map([['docs', { name: 'docs' } as HostedServer]]);
const tokens = {
  verify: (token: string) => (token === 'hbr_bench' ? { name: 'alice', scope: null, createdAt: 0, lastUsedAt: null } : null),
  touch: () => {},
} as unknown as TokenStore;
const guard = new RequestGuard({ bindHost: '127.0.0.1' });
guard.setPort(7837);
const limits = { rate: new TokenBucket({ ratePerSecond: 1e9, burst: 1e9 }), sessions: undefined as never, describeRate: '' };
let served = 0;
const serve: Handler<ServerCall> = () => {
  served++;
};
const refuse: Handler<RequestPlace> = () => {
  throw new Error('the bench request should reach the endpoint');
};

/** The host's table (host-server.ts hostRoutes) with empty handlers. */
function harborTable(): Handler<unknown> {
  const endpoint = byMethod({ GET: serve, POST: serve, DELETE: serve });
  const routes = routeTable<RequestPlace>([
    route((place) => (place.local && place.path.startsWith('/app/') ? place : null), refuse),
    route(exactPath('/health'), refuse),
    route(exactPath('/metrics'), refuse),
    route(pathUnder('/admin'), refuse),
    route(
      serverEndpointPath(servers),
      guarded([authenticate(tokens, undefined), hostedServer(servers), inScope, withinRate(limits), admitted(tokens)], (req, res, call) => endpoint(req, res, call)),
    ),
  ], refuse);
  return guarded([readPlace, allowedHostAndOrigin(guard)], routes);
}

/** The same steps called one after the other, no table (the shape of host-server.ts's route() before issue 13). */
function inline(): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const auth = authenticate(tokens, undefined);
  const lookup = hostedServer(servers);
  const origin = allowedHostAndOrigin(guard);
  const rate = withinRate(limits);
  const admit = admitted(tokens);
  const endpointPath = serverEndpointPath(servers);
  return async (req, res) => {
    const place = readPlace(req, res, undefined) as RequestPlace | null;
    if (!place || !origin(req, res, place)) return;
    if (place.path === '/health' || place.path === '/metrics' || place.path.startsWith('/admin')) return refuse(req, res, place);
    const endpoint = endpointPath(place, req);
    if (!endpoint) return refuse(req, res, place);
    const who = auth(req, res, endpoint) as Authenticated | null;
    const hosted = who && lookup(req, res, who);
    const allowed = hosted && inScope(req, res, hosted as never);
    const within = allowed && rate(req, res, allowed as never);
    const call = within && admit(req, res, within as never);
    if (call && req.method === 'POST') serve(req, res, call as ServerCall);
  };
}

/** The same guards as express Router middleware over the URL forms' path patterns. */
function expressRouter(): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const require = createRequire(import.meta.url);
  const express = require('express') as typeof import('express');
  const router = express.Router();
  type Carried = IncomingMessage & { harbor?: unknown; params?: Record<string, string> };
  const step = (g: Guard<never, unknown>, input: (req: Carried) => unknown) => (req: Carried, res: ServerResponse, next: () => void) => {
    const out = g(req, res, input(req) as never);
    if (out instanceof Promise) throw new Error('sync guards only in this bench');
    if (out !== null) {
      req.harbor = out;
      next();
    }
  };
  for (const path of ['/app/{*rest}', '/health', '/metrics', '/admin', '/admin/{*rest}']) router.all(path, () => refuse);
  const chain = [
    step(readPlace, () => undefined),
    step(allowedHostAndOrigin(guard), (req) => req.harbor),
    step(authenticate(tokens, undefined), (req) => ({ url: (req.harbor as RequestPlace).url, route: { server: req.params!.name, endpoint: 'mcp', kindFirst: false, ...(req.params!.token ? { pathToken: req.params!.token } : {}) } })),
    step(hostedServer(servers), (req) => req.harbor),
    step(inScope, (req) => req.harbor),
    step(withinRate(limits), (req) => req.harbor),
    step(admitted(tokens), (req) => req.harbor),
  ];
  for (const path of ['/:name/mcp', '/t/:token/:name/mcp', '/mcp/:name', '/t/:token/mcp/:name']) {
    router.route(path).all(...chain).get(done).post(done).delete(done);
  }
  function done(req: Carried, res: ServerResponse): void {
    serve(req, res, req.harbor as ServerCall);
    (res as unknown as { resolve: () => void }).resolve();
  }
  return (req, res) =>
    new Promise<void>((resolve, reject) => {
      (res as unknown as { resolve: () => void }).resolve = resolve;
      router(req as never, res as never, (error?: unknown) => (error ? reject(error) : reject(new Error(`fell through: ${req.url}`))));
    });
}

function request(): IncomingMessage {
  return {
    method: 'POST',
    url: '/docs/mcp',
    headers: { host: '127.0.0.1:7837', authorization: 'Bearer hbr_bench', 'content-type': 'application/json' },
    socket: { remoteAddress: '127.0.0.1' },
  } as unknown as IncomingMessage;
}

/** ns per request of each variant, the median of its rounds; the variants take turns each round, so load drifts hit all alike. */
async function nsPerRequest(variants: Array<(req: IncomingMessage, res: ServerResponse) => unknown>): Promise<number[]> {
  const rounds = variants.map((): number[] => []);
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const [v, answer] of variants.entries()) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < REQUESTS; i++) await answer(request(), {} as ServerResponse);
      // The first round warms the JIT up and is not counted.
      if (round > 0) rounds[v]!.push(Number(process.hrtime.bigint() - start) / REQUESTS);
    }
  }
  return rounds.map((times) => times.sort((x, y) => x - y)[Math.floor(times.length / 2)]!);
}

const direct = inline();
const table = harborTable();
const rssBefore = process.memoryUsage().rss;
const router = expressRouter();
const rssAfter = process.memoryUsage().rss;
const [unrouted, harbor, viaExpress] = (await nsPerRequest([direct, (req, res) => table(req, res, undefined), router])) as [number, number, number];
if (served !== 3 * REQUESTS * (ROUNDS + 1)) throw new Error(`served ${served} of ${3 * REQUESTS * (ROUNDS + 1)}`);
console.log(`POST /docs/mcp, ${REQUESTS} requests x ${ROUNDS} rounds (median round):`);
console.log(`  inline, no table: ${unrouted.toFixed(0)} ns/request`);
console.log(`  route table:    ${harbor.toFixed(0)} ns/request (+${(harbor - unrouted).toFixed(0)} ns)`);
console.log(`  express Router: ${viaExpress.toFixed(0)} ns/request (+${(viaExpress - unrouted).toFixed(0)} ns, ${(viaExpress / harbor).toFixed(1)}x the table)`);
console.log(`  loading express added ${((rssAfter - rssBefore) / 1024 / 1024).toFixed(1)} MB of RSS`);
