import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startHost, type Host } from '../../server/host.ts';
import { silentLogger } from '../../server/logger.ts';
import { fixtureServer, GENEROUS_LIMITS, tempHome } from '../helpers/harbor.ts';
import { adminFetch, pkcePair } from '../helpers/oauth-browser.ts';
import { postgresMissing, startPostgres, type TestPostgres } from '../helpers/postgres.ts';

/**
 * Sign in with Harbor on two real replicas (two homes, two ports) sharing one real PostgreSQL, both
 * answering at one public origin as they do behind the exported nginx or a tunnel: each step of a
 * sign-in lands on a different replica, and a revocation through one ends the sign-in on the other.
 */
const skip = postgresMissing() ?? false;
const PUBLIC = 'https://harbor.example.test';
const PUBLIC_HOST = new URL(PUBLIC).host;
const REDIRECT = 'http://127.0.0.1:53682/callback';
let postgres: TestPostgres;
let url: string;

before(async () => {
  if (skip) return;
  postgres = await startPostgres();
  url = postgres.createDatabase('oauth_replicas');
});
after(() => postgres?.stop());

async function startReplica(replica: string): Promise<{ host: Host; close: () => Promise<void> }> {
  const { home, cleanup } = tempHome();
  const config = { mcpServers: { fx: fixtureServer() }, limits: GENEROUS_LIMITS, auth: 'both', store: { url } };
  writeFileSync(join(home, 'config.json'), JSON.stringify(config));
  const host = await startHost({ home, port: 0, log: silentLogger, replica, heartbeatMs: 1000 });
  // The address teammates use, in front of both replicas (a named tunnel, or the load balancer's name).
  host.applyShareState({ state: 'online', mode: 'named', publicUrl: PUBLIC, lastError: null });
  return {
    host,
    async close() {
      await host.close();
      cleanup();
    },
  };
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A request to one replica as the public origin (Host is one fetch will not send). */
function viaPublic(replica: Host, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${replica.url}${path}`, { method: options.method ?? 'GET', headers: { Host: PUBLIC_HOST, ...options.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'probe', version: '1' } } });
const mcpHeaders = (token: string) => ({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' });
const initialize = (replica: Host, token: string) => viaPublic(replica, '/fx/mcp', { method: 'POST', headers: mcpHeaders(token), body: INITIALIZE });

/** Milliseconds until `condition` holds, polled every 5 ms (a measurement to report; bounded at 10 s). */
async function msUntil(what: string, since: number, condition: () => Promise<boolean>): Promise<number> {
  while (!(await condition())) {
    if (Date.now() - since > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Date.now() - since;
}

/** Register on A, authorize on A, the form on B, approval through B's admin API, the redirect from A, the code redeemed on B. */
async function signIn(a: Host, b: Host, name: string): Promise<{ clientId: string; access: string; refresh: string }> {
  const registered = await viaPublic(a, '/register', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_name: 'Replica Client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }),
  });
  assert.equal(registered.status, 201, registered.body);
  const clientId = (JSON.parse(registered.body) as { client_id: string }).client_id;
  const pkce = pkcePair();
  const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: 'S256', state: 'st', resource: `${PUBLIC}/fx/mcp` });
  const page = await viaPublic(a, `/authorize?${query}`);
  assert.equal(page.status, 200, page.body);
  const requestId = /name="request" value="([^"]+)"/.exec(page.body)![1]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const cookie = String(page.headers['set-cookie']).split(';')[0]!;

  const submitted = await viaPublic(b, '/signin', { ...form({ request: requestId, csrf, name }), headers: { ...form({}).headers, Cookie: cookie, Origin: PUBLIC } });
  assert.equal(submitted.status, 303, submitted.body);
  const waiting = ((await (await adminFetch(a.url, a.adminSecret, 'GET', '/admin/approvals')).json()) as { approvals: Array<{ id: string }> }).approvals;
  assert.deepEqual(waiting.map((w) => w.id), [requestId], "A's owner sees the request submitted on B");
  const approved = await adminFetch(b.url, b.adminSecret, 'POST', `/admin/approvals/${requestId}/approve`);
  assert.equal(approved.status, 200, await approved.text());

  const back = await viaPublic(a, `/signin/wait?request=${requestId}`, { headers: { Cookie: cookie } });
  assert.equal(back.status, 302, back.body);
  const location = new URL(back.headers.location!);
  assert.equal(location.searchParams.get('iss'), `${PUBLIC}/`);
  const again = await viaPublic(b, `/signin/wait?request=${requestId}`, { headers: { Cookie: cookie } });
  assert.equal(again.status, 404, 'the approval gave one code, on whichever replica asked first');

  const exchanged = await viaPublic(b, '/token', form({ grant_type: 'authorization_code', client_id: clientId, code: location.searchParams.get('code')!, code_verifier: pkce.verifier, redirect_uri: REDIRECT }));
  assert.equal(exchanged.status, 200, exchanged.body);
  const tokens = JSON.parse(exchanged.body) as { access_token: string; refresh_token: string };
  return { clientId, access: tokens.access_token, refresh: tokens.refresh_token };
}

test('a sign-in started on A, approved through B, used on both; refreshed on A; revoking the teammate through A ends it on B', { skip }, async (t) => {
  const a = await startReplica('replica-a');
  t.after(() => a.close());
  const b = await startReplica('replica-b');
  t.after(() => b.close());

  const dana = await signIn(a.host, b.host, 'dana');
  assert.equal((await initialize(b.host, dana.access)).status, 200, 'the token works on B');
  assert.equal((await initialize(a.host, dana.access)).status, 200, 'and on A');

  // Refresh rotation on A; B refuses the rotated-out access token and takes the new one.
  const rotated = await viaPublic(a.host, '/token', form({ grant_type: 'refresh_token', refresh_token: dana.refresh, client_id: dana.clientId }));
  assert.equal(rotated.status, 200, rotated.body);
  const next = JSON.parse(rotated.body) as { access_token: string; refresh_token: string };
  await msUntil('B to refuse the rotated-out token', Date.now(), async () => (await initialize(b.host, dana.access)).status === 401);
  assert.equal((await initialize(b.host, next.access_token)).status, 200);

  // Dana holds a GET stream on B; the owner revokes her through A.
  const opened = await initialize(b.host, next.access_token);
  const session = { ...mcpHeaders(next.access_token), 'Mcp-Session-Id': String(opened.headers['mcp-session-id']), 'MCP-Protocol-Version': '2025-11-25' };
  await viaPublic(b.host, '/fx/mcp', { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  let streamClosedAt = 0;
  const stream = new Promise<number>((resolve, reject) => {
    const req = request(`${b.host.url}/fx/mcp`, { headers: { Host: PUBLIC_HOST, ...session, Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`GET stream answered ${res.statusCode}`));
      res.resume();
      res.on('close', () => resolve((streamClosedAt = Date.now())));
    });
    req.on('error', () => resolve((streamClosedAt = Date.now())));
    req.end();
  });
  await msUntil("dana's GET stream on B", Date.now(), async () => [...b.host.sessions.all()].some((s) => s.teammate === 'dana'));

  const revokedAt = Date.now();
  const revoked = await adminFetch(a.host.url, a.host.adminSecret, 'DELETE', '/admin/teammates/dana');
  assert.equal(revoked.status, 200, await revoked.text());
  const refusedAfter = await msUntil('B to refuse the revoked sign-in', revokedAt, async () => (await initialize(b.host, next.access_token)).status === 401);
  await Promise.race([stream, new Promise((_, reject) => setTimeout(() => reject(new Error("B's GET stream still open 10 s after the revocation")), 10_000).unref())]);
  t.diagnostic(`revoked through A: B refused dana's access token after ${refusedAfter} ms, closed her GET stream after ${streamClosedAt - revokedAt} ms`);
  const refresh = await viaPublic(b.host, '/token', form({ grant_type: 'refresh_token', refresh_token: next.refresh_token, client_id: dana.clientId }));
  assert.equal(refresh.status, 400, 'the refresh token died with her, on B too');
  assert.equal([...b.host.sessions.all()].filter((s) => s.teammate === 'dana').length, 0);
});
