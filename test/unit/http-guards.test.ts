import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SessionCap } from '../../server/access/session-cap.ts';
import { TokenBucket } from '../../server/access/token-bucket.ts';
import { SqliteTokenStore } from '../../server/auth/token-store.ts';
import type { HostedServer } from '../../server/gateway/hosted-server.ts';
import { admitted, hostedServer, inScope, withinRate, type ServerCall } from '../../server/http/access-guards.ts';
import { authenticate } from '../../server/http/auth-guards.ts';
import { sendJson } from '../../server/http/http-errors.ts';
import { allowedHostAndOrigin, loopbackOnly, readPlace, type RequestPlace } from '../../server/http/place-guards.ts';
import { RequestGuard } from '../../server/http/request-guard.ts';
import { exactPath, guarded, route, routeTable } from '../../server/http/route-table.ts';
import { serverEndpointPath } from '../../server/http/server-endpoints.ts';
import { openDatabase } from '../../server/store/sqlite-database.ts';
import { tempHome } from '../helpers/harbor.ts';
import { call, serveTable } from '../helpers/table-server.ts';

// The host's guards composed as host-server.ts composes them, in front of a handler that echoes the
// call they let through: a real token store, a real rate limiter on a hand-driven clock, a real server.
const home = tempHome();
const db = openDatabase(join(home.home, 'harbor.db'));
const tokens = new SqliteTokenStore(db);
const alice = tokens.issue('alice').token;
const scoped = tokens.issue('bob', { scope: ['docs'] }).token;
// The guards read a hosted server's name only.
const servers = new Map(['docs', 'notes'].map((name) => [name, { name } as HostedServer]));
let clock = 0;
const rate = new TokenBucket({ ratePerSecond: 1, burst: 2, now: () => clock });
const guard = new RequestGuard({ bindHost: '127.0.0.1' });
let served: { server: Server; port: number };
let host = '';

before(async () => {
  const echo = (_req: unknown, res: Parameters<typeof sendJson>[0], call: ServerCall) =>
    sendJson(res, 200, { teammate: call.caller.teammate, viaTunnel: call.caller.viaTunnel, server: call.hosted.name, endpoint: call.route.endpoint });
  const table = routeTable<RequestPlace>([
    route(exactPath('/local'), guarded([loopbackOnly('this machine only')], (_req, res) => sendJson(res, 200, { local: true }))),
    route(serverEndpointPath(servers), guarded([
      authenticate(tokens, undefined),
      hostedServer(servers),
      inScope,
      withinRate({ rate, sessions: new SessionCap(), describeRate: '1 request/s (burst 2)' }),
      admitted(tokens),
    ], echo)),
  ], (_req, res) => sendJson(res, 404, { unmatched: true }));
  served = await serveTable(guarded([readPlace, allowedHostAndOrigin(guard)], table));
  guard.setPort(served.port);
  host = `127.0.0.1:${served.port}`;
});
after(() => {
  served.server.close();
  db.close();
  home.cleanup();
});

const bearer = (token: string) => ({ host, authorization: `Bearer ${token}` });
const errorOf = (body: string) => (JSON.parse(body) as { error: { code: number; message: string } }).error;

test('Host and Origin must name this server: 403 before anything else is looked at', async () => {
  const evilHost = await call(served.port, 'GET', '/local', { host: 'evil.example' });
  assert.equal(evilHost.status, 403);
  assert.match(errorOf(evilHost.body).message, /Host header not allowed/);
  const evilOrigin = await call(served.port, 'POST', '/docs/mcp', { ...bearer(alice), origin: 'http://evil.example' });
  assert.equal(evilOrigin.status, 403);
  assert.match(errorOf(evilOrigin.body).message, /Origin not allowed/);
  assert.equal((await call(served.port, 'GET', '/local', { host, origin: `http://${host}` })).status, 200);
});

test('loopbackOnly: a request through a proxy or tunnel is refused with the route\'s words', async () => {
  const forwarded = await call(served.port, 'GET', '/local', { host, 'x-forwarded-for': '203.0.113.5' });
  assert.equal(forwarded.status, 403);
  assert.equal(errorOf(forwarded.body).message, 'Forbidden: this machine only');
});

test('authenticate: no token, a wrong token, a malformed path token → 401; a bearer or a path token → the teammate', async () => {
  const missing = await call(served.port, 'POST', '/docs/mcp', { host });
  assert.equal(missing.status, 401);
  assert.equal(missing.headers['www-authenticate'], 'Bearer realm="harbor"');
  const wrong = await call(served.port, 'POST', '/docs/mcp', bearer(`${alice}x`));
  assert.equal(wrong.status, 401);
  assert.match(String(wrong.headers['www-authenticate']), /error="invalid_token"/);
  // A token segment that does not percent-decode is no token at all.
  assert.equal((await call(served.port, 'POST', '/t/%E0%A4%A/docs/mcp', { host })).headers['www-authenticate'], 'Bearer realm="harbor"');
  clock += 10_000;
  assert.equal(JSON.parse((await call(served.port, 'POST', '/docs/mcp', bearer(alice))).body).teammate, 'alice');
  const viaPath = await call(served.port, 'POST', `/t/${encodeURIComponent(alice)}/sse/notes`, { host, 'cf-ray': 'abc' });
  assert.deepEqual(JSON.parse(viaPath.body), { teammate: 'alice', viaTunnel: true, server: 'notes', endpoint: 'sse' });
});

test('an unknown server is a 404 only after authentication, so a caller without a token cannot probe names', async () => {
  assert.equal((await call(served.port, 'POST', '/secret-project/mcp', { host })).status, 401);
  clock += 10_000;
  const unknown = await call(served.port, 'POST', '/secret-project/mcp', bearer(alice));
  assert.equal(unknown.status, 404);
  assert.equal(errorOf(unknown.body).code, -32600);
  assert.match(errorOf(unknown.body).message, /served: docs, notes/);
});

test('a scoped token reaches its servers only (403 for the others)', async () => {
  clock += 10_000;
  assert.equal((await call(served.port, 'POST', '/docs/mcp', bearer(scoped))).status, 200);
  const other = await call(served.port, 'POST', '/notes/mcp', bearer(scoped));
  assert.equal(other.status, 403);
  assert.match(errorOf(other.body).message, /not allowed to use "notes"/);
});

test('over the rate: 429 with Retry-After; a request refused by scope spends nothing', async () => {
  clock += 10_000;
  assert.equal((await call(served.port, 'POST', '/notes/mcp', bearer(scoped))).status, 403, 'refused by scope before the rate is counted');
  assert.equal((await call(served.port, 'POST', '/docs/mcp', bearer(scoped))).status, 200);
  assert.equal((await call(served.port, 'POST', '/docs/mcp', bearer(scoped))).status, 200);
  const limited = await call(served.port, 'POST', '/docs/mcp', bearer(scoped));
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['retry-after'], '1');
  assert.match(errorOf(limited.body).message, /rate limit for bob is 1 request\/s \(burst 2\)/);
  clock += 1000;
  assert.equal((await call(served.port, 'POST', '/docs/mcp', bearer(scoped))).status, 200, 'a second later one token is back');
});

test('admitted notes the teammate\'s first use', async () => {
  clock += 10_000;
  const carol = tokens.issue('carol').token;
  assert.equal(tokens.list().find((t) => t.name === 'carol')!.lastUsedAt, null);
  assert.equal((await call(served.port, 'POST', '/docs/mcp', bearer(carol))).status, 200);
  assert.equal(typeof tokens.list().find((t) => t.name === 'carol')!.lastUsedAt, 'number');
});
