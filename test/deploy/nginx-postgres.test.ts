/**
 * The exported nginx.conf, run by a real nginx, in front of two real `harbor serve --container`
 * replicas sharing one real PostgreSQL 15: the laptop's tokens imported once into the shared table,
 * a revocation through one replica refused by the other, 2026-07-28 requests spread over both, an
 * input_required continuation completed whichever replica it lands on, and a dead replica's traffic
 * (and its pending calls) handled.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectClient, EVERYTHING, GENEROUS_LIMITS, issueThroughAdmin, ROOT, waitFor } from '../helpers/harbor.ts';
import { postgresMissing, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { freePort, harborCli, NGINX, rewriteNginxConf, startNginx, startReplica, type Nginx, type Replica } from './nginx-harness.ts';

const skip = !existsSync(NGINX) ? `${NGINX} is missing: apt-get install -y nginx-light (.ci/run installs it)` : (postgresMissing() ?? false);
const FIXTURE = join(ROOT, 'test/fixtures/conformance-server/server.ts');
const ADMIN_SECRET = 'nginx-postgres-test-admin-secret';
const MODERN = '2026-07-28';

let dir = '';
let token = '';
let postgres: TestPostgres | null = null;
let db: pg.Pool | null = null;
let nginx: Nginx | null = null;
const replicas: Replica[] = [];
const ports: Record<string, number> = {};
let base = '';
const clients: Client[] = [];

const replicaOf = (client: Client) => ((client.transport as StreamableHTTPClientTransport).sessionId ?? '').split('.')[0];
const byName = (name: string) => replicas.find((r) => r.name === name)!;
const direct = (name: string) => `http://127.0.0.1:${ports[name]}`;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'harbor-nginx-pg-'));
  chmodSync(dir, 0o755); // nginx's workers run as nobody and write their temp files here
  postgres = await startPostgres();
  const url = postgres.createDatabase('harbor');
  db = new pg.Pool({ connectionString: url, max: 1 });
  const laptop = join(dir, 'laptop');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({
    mcpServers: {
      everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] },
      conformance: { command: process.execPath, args: [FIXTURE], mode: 'shared' },
    },
    docs: false,
    limits: GENEROUS_LIMITS,
  }));
  token = (JSON.parse(harborCli(['token', 'add', 'alice', '--json'], { HARBOR_HOME: laptop })) as { token: string }).token;
  harborCli(['export', join(dir, 'bundle'), '--config', config, '--with-tokens', '--json'], { HARBOR_HOME: laptop });
  for (const name of ['nginx', 'harbor-1', 'harbor-2']) ports[name] = await freePort();
  base = `http://127.0.0.1:${ports.nginx}`;
  const env = {
    HARBOR_DATABASE_URL: url,
    HARBOR_TOKENS_FILE: join(dir, 'bundle', 'tokens.json'),
    HARBOR_ADMIN_SECRET: ADMIN_SECRET,
    // Bound to loopback, a replica checks Host: nginx passes the client's (nginx's port), and a
    // forwarded continuation keeps the Host it arrived with (here also a replica's own port).
    HARBOR_ALLOWED_HOSTS: ['nginx', 'harbor-1', 'harbor-2'].map((n) => `127.0.0.1:${ports[n]}`).join(','),
  };
  // One after the other: the second finds alice already in the shared table.
  for (const name of ['harbor-1', 'harbor-2']) replicas.push(await startReplica(name, { home: join(dir, name), config, env: { ...env, PORT: String(ports[name]) } }));
  const conf = rewriteNginxConf(readFileSync(join(dir, 'bundle', 'nginx.conf'), 'utf8'), {
    dir: join(dir, 'nginx'),
    port: ports.nginx!,
    upstreams: { 'harbor-1': ports['harbor-1']!, 'harbor-2': ports['harbor-2']! },
  });
  nginx = await startNginx(conf, join(dir, 'nginx'), ports.nginx!);
});

after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await nginx?.stop();
  await Promise.all(replicas.map((r) => r.stop()));
  await db?.end();
  postgres?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface ModernAnswer {
  status: number;
  body: { result?: Record<string, unknown> & { content?: Array<{ text: string }> }; error?: { code: number; message: string; data?: unknown } };
}

/** One raw 2026-07-28 POST (no session), answered as JSON or as an SSE stream whose last event is the answer. */
async function modernPost(url: string, server: string, method: string, params: Record<string, unknown>, bearer = token): Promise<ModernAnswer> {
  const meta = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } };
  const response = await fetch(`${url}/${server}/mcp`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${bearer}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': MODERN,
      'Mcp-Method': method,
      ...(typeof params.name === 'string' ? { 'Mcp-Name': params.name } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('event-stream') ? text.split('\n').filter((l) => l.startsWith('data: ')).at(-1)!.slice(6) : text;
  return { status: response.status, body: JSON.parse(json) as ModernAnswer['body'] };
}

/** The replica a requestState names (its claims are readable: signed, not encrypted). */
const ownerOfState = (state: string) => (JSON.parse(Buffer.from(state.split('.')[0]!, 'base64url').toString('utf8')) as { replica?: string }).replica;

const SAMPLING = { name: 'test_sampling', arguments: { prompt: 'Capital of France?' } };
const answer = (text: string) => ({ 'sampling-1': { role: 'assistant', model: 'm', content: { type: 'text', text } } });

/** Round 1 of a sampling call at `url`: the input_required result and the replica holding the call. */
async function firstRound(url: string): Promise<{ state: string; owner: string }> {
  const first = await modernPost(url, 'conformance', 'tools/call', SAMPLING);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.result?.resultType, 'input_required', JSON.stringify(first.body));
  assert.deepEqual(Object.keys(first.body.result!.inputRequests as object), ['sampling-1']);
  const state = String(first.body.result!.requestState);
  return { state, owner: ownerOfState(state)! };
}

/** A new teammate issued through harbor-1's admin API; its token. */
function issue(name: string): Promise<string> {
  return issueThroughAdmin(direct('harbor-1'), ADMIN_SECRET, name);
}

const forwardedLines = () => replicas.flatMap((r) => r.lines.filter((l) => l.msg === 'continuation forwarded to the replica holding its call').map(() => r.name));

test('tokens.json imported once into the shared PostgreSQL (the second replica finds alice there); tool calls through nginx', { skip }, async () => {
  const imported = replicas.map((r) => r.lines.find((l) => l.msg === 'teammates imported')?.added);
  assert.deepEqual(imported, [1, 0]);
  const { rows } = await db!.query<{ n: number }>("SELECT count(*)::int AS n FROM teammates WHERE name = 'alice'");
  assert.equal(rows[0]!.n, 1);
  const client = await connectClient(base, 'everything', token);
  clients.push(client);
  const result = await client.callTool({ name: 'echo', arguments: { message: 'through nginx' } });
  assert.deepEqual(result.content, [{ type: 'text', text: 'Echo: through nginx' }]);
});

test('a token revoked through replica A is refused by replica B (time measured from the revocation\'s answer)', { skip }, async (t) => {
  const bob = await issue('bob');
  await waitFor(async () => (await modernPost(direct('harbor-2'), 'everything', 'tools/list', {}, bob)).status === 200, 10_000, 'B to honour the token issued on A');
  const revoked = await fetch(`${direct('harbor-1')}/admin/teammates/bob`, { method: 'DELETE', headers: { 'x-harbor-admin-secret': ADMIN_SECRET } });
  assert.equal(revoked.status, 200);
  await revoked.text();
  const revokedAt = Date.now();
  let polls = 0;
  await waitFor(async () => {
    polls++;
    return (await modernPost(direct('harbor-2'), 'everything', 'tools/list', {}, bob)).status === 401;
  }, 10_000, 'B to refuse the token revoked on A');
  const refusedAfter = Date.now() - revokedAt;
  t.diagnostic(`revoked through harbor-1: harbor-2 refused it ${refusedAfter} ms after the revocation answered (${polls} requests to harbor-2)`);
  // And through nginx, whichever replica answers.
  for (let i = 0; i < 4; i++) assert.equal((await modernPost(base, 'everything', 'tools/list', {}, bob)).status, 401);
});

test('2026-07-28 requests through nginx spread over both replicas (counted by the replica names on the shared audit rows)', { skip }, async (t) => {
  const CALLS = 20;
  // A teammate of this test's own, so the audit rows counted are exactly its calls.
  const carol = await issue('carol');
  for (let i = 0; i < CALLS; i++) {
    const called = await modernPost(base, 'everything', 'tools/call', { name: 'echo', arguments: { message: `modern ${i}` } }, carol);
    assert.equal(called.status, 200, JSON.stringify(called.body));
    assert.equal(called.body.result?.content?.[0]?.text, `Echo: modern ${i}`);
  }
  const count = async () => (await db!.query<{ replica: string; n: number }>(
    "SELECT replica, count(*)::int AS n FROM audit_log WHERE method = 'tools/call' AND teammate = 'carol' GROUP BY replica ORDER BY replica",
  )).rows;
  // Audit rows are written in batches (about a second): wait for all of them.
  const perReplica = await waitFor(async () => {
    const rows = await count();
    return rows.reduce((n, r) => n + r.n, 0) >= CALLS ? rows : null;
  }, 15_000, 'every call to reach the audit log');
  t.diagnostic(`${CALLS} modern calls through nginx: ${perReplica.map((r) => `${r.replica} ${r.n}`).join(', ')}`);
  assert.deepEqual(perReplica.map((r) => r.replica), ['harbor-1', 'harbor-2']);
  assert.ok(perReplica.every((r) => r.n > 0));
});

test('an input_required continuation sent to the other replica completes: relayed to the replica holding the call', { skip }, async (t) => {
  const { state, owner } = await firstRound(base);
  assert.match(owner, /^harbor-[12]$/);
  const other = owner === 'harbor-1' ? 'harbor-2' : 'harbor-1';
  const before = forwardedLines().length;
  // Straight to the other replica: it does not hold the call, and forwards the retry to the owner.
  const done = await modernPost(direct(other), 'conformance', 'tools/call', { ...SAMPLING, inputResponses: answer('Paris'), requestState: state });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.equal(done.body.result?.content?.[0]?.text, 'LLM response: Paris');
  // The log line is read from the replica's stdout a moment after the answer.
  await waitFor(() => forwardedLines().length > before, 10_000, 'the forwarding log line');
  assert.deepEqual(forwardedLines().slice(before), [other]);

  // Both rounds through nginx, as a client would send them: every exchange completes wherever the
  // retry lands (nginx's round robin sends consecutive requests to alternate replicas).
  const rounds = 4;
  for (let i = 0; i < rounds; i++) {
    const first = await firstRound(base);
    const final = await modernPost(base, 'conformance', 'tools/call', { ...SAMPLING, inputResponses: answer(`answer ${i}`), requestState: first.state });
    assert.equal(final.body.result?.content?.[0]?.text, `LLM response: answer ${i}`, JSON.stringify(final.body));
  }
  // Each relay's log line is written before its answer is relayed: all are in by now but for the
  // stdout pipe, hence the short wait for the count to settle on at least one.
  await waitFor(() => forwardedLines().length - before - 1 > 0, 10_000, 'a retry through nginx relayed to the other replica');
  const relayed = forwardedLines().length - before - 1;
  t.diagnostic(`${rounds} sampling exchanges with both rounds through nginx: ${relayed} retries landed on the other replica and were relayed`);
  assert.ok(relayed > 0, 'at least one retry through nginx reached the replica not holding its call');
});

test('a replica killed: new sessions and modern calls go to the other; its pending call is reported dead, to start over', { skip }, async () => {
  // A call parked on harbor-1 just before it dies.
  const parked = await firstRound(direct('harbor-1'));
  assert.equal(parked.owner, 'harbor-1');
  await byName('harbor-1').stop('SIGKILL');
  const fresh = await Promise.all([0, 1, 2, 3].map(() => connectClient(base, 'everything', token)));
  clients.push(...fresh);
  assert.deepEqual(fresh.map(replicaOf), ['harbor-2', 'harbor-2', 'harbor-2', 'harbor-2']);
  for (let i = 0; i < 4; i++) {
    const called = await modernPost(base, 'everything', 'tools/call', { name: 'echo', arguments: { message: `after ${i}` } });
    assert.equal(called.body.result?.content?.[0]?.text, `Echo: after ${i}`);
  }
  // Its retry reaches harbor-2 (the only one left), which cannot reach harbor-1: a clear error.
  const orphan = await modernPost(base, 'conformance', 'tools/call', { ...SAMPLING, inputResponses: answer('too late'), requestState: parked.state });
  assert.equal(orphan.body.error?.code, -32602, JSON.stringify(orphan.body));
  assert.match(orphan.body.error!.message, /the replica holding this call \("harbor-1"\) .*the pending call died with it\. Call again without requestState to start over/);
  assert.deepEqual(orphan.body.error!.data, { reason: 'gone', replica: 'harbor-1' });
  // Starting over works.
  const again = await firstRound(base);
  assert.equal(again.owner, 'harbor-2');
  const done = await modernPost(base, 'conformance', 'tools/call', { ...SAMPLING, inputResponses: answer('Lyon'), requestState: again.state });
  assert.equal(done.body.result?.content?.[0]?.text, 'LLM response: Lyon');
});
