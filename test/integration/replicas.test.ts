import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startHost, type Host } from '../../server/host.ts';
import { silentLogger } from '../../server/logger.ts';
import { openPostgres, type PgPool } from '../../server/store/postgres-database.ts';
import { authHeaders, connectClient, fixtureServer, GENEROUS_LIMITS, ROOT, tempHome, textOf, waitFor } from '../helpers/harbor.ts';
import { postgresMissing, startPostgres, type TestPostgres } from '../helpers/postgres.ts';

/**
 * Two real hosts (two homes, two ports, two upstream fixtures) on one real PostgreSQL behave as one
 * Harbor: tokens, revocations, the cache and the audit log are shared; each names itself.
 */
const skip = postgresMissing() ?? false;
let postgres: TestPostgres;
let url: string;
let sql: PgPool;
const CACHE_DISK_BYTES = 48 * 1024;
const CLI = join(ROOT, 'main/cli.ts');
const execFileP = promisify(execFile);

before(async () => {
  if (skip) return;
  postgres = await startPostgres();
  url = postgres.createDatabase('replicas');
  sql = openPostgres(url, { max: 1 });
});
after(async () => {
  await sql?.end();
  postgres?.stop();
});

async function startReplica(replica: string): Promise<{ host: Host; close: () => Promise<void> }> {
  const { home, cleanup } = tempHome();
  const config = {
    mcpServers: { fx: fixtureServer({}, { cache: { tools: ['echo'], ttlSeconds: 300 } }) },
    limits: GENEROUS_LIMITS,
    cache: { memoryMb: 16, diskMb: CACHE_DISK_BYTES / (1024 * 1024) },
    store: { url },
  };
  writeFileSync(join(home, 'config.json'), JSON.stringify(config));
  const host = await startHost({ home, port: 0, log: silentLogger, replica, heartbeatMs: 1000 });
  return {
    host,
    async close() {
      await host.close();
      cleanup();
    },
  };
}

/** Reads a response body to its end; resolves when the host closes the stream. */
async function untilEnd(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  for (;;) {
    const { done } = await reader.read().catch(() => ({ done: true }));
    if (done) return;
  }
}

/** Milliseconds until `condition` holds, polled every 2 ms (a measurement to report; bounded at 10 s). */
async function msUntil(what: string, since: number, condition: () => boolean): Promise<number> {
  while (!condition()) {
    if (Date.now() - since > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return Date.now() - since;
}

const initialize = (base: string, token: string) =>
  fetch(`${base}/mcp/fx`, {
    method: 'POST',
    headers: { ...authHeaders(token), Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'probe', version: '1' } } }),
  }).then(async (res) => {
    await res.text();
    return res.status;
  });

test('two replicas on one PostgreSQL: tokens, revocation with stream closing, a shared bounded cache and one audit log naming each replica', { skip }, async (t) => {
  const a = await startReplica('replica-a');
  t.after(() => a.close());
  const b = await startReplica('replica-b');
  t.after(() => b.close());

  // Issued through A's admin API (as `harbor token add` does), honoured by B.
  const issuedAt = Date.now();
  const issued = await fetch(`${a.host.url}/admin/teammates`, {
    method: 'POST',
    headers: { 'x-harbor-admin-secret': a.host.adminSecret, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'alice' }),
  });
  assert.equal(issued.status, 201);
  const { token } = (await issued.json()) as { token: string };
  const honouredAfter = await msUntil('B to honour the token issued on A', issuedAt, () => b.host.tokens.verify(token) !== null);
  assert.equal(await initialize(b.host.url, token), 200);
  t.diagnostic(`token issued through A's admin API honoured by B ${honouredAfter} ms after the request was sent`);

  // A result cached through A is a hit on B: B's own upstream never sees the call.
  const clientA = await connectClient(a.host.url, 'fx', token);
  t.after(() => clientA.close());
  assert.equal(textOf(await clientA.callTool({ name: 'echo', arguments: { message: 'shared' } })), 'shared');
  await waitFor(async () => (await sql.query("SELECT 1 FROM cache_entries WHERE ns = 'tools'")).rowCount! > 0, 10_000, "A's cache write to reach PostgreSQL");
  const clientB = await connectClient(b.host.url, 'fx', token);
  t.after(() => clientB.close());
  assert.equal(textOf(await clientB.callTool({ name: 'echo', arguments: { message: 'shared' } })), 'shared');
  assert.equal(textOf(await clientB.callTool({ name: 'calls', arguments: {} })), '0', "B's upstream was never called: the result came from the shared cache");

  // Both replicas fill the shared cache past its bound: it stays within CACHE_DISK_BYTES in total.
  const big = 'x'.repeat(4096);
  for (let i = 0; i < 12; i++) {
    await clientA.callTool({ name: 'echo', arguments: { message: `${big}-a${i}` } });
    await clientB.callTool({ name: 'echo', arguments: { message: `${big}-b${i}` } });
  }
  const filled = await waitFor(async () => {
    const { rows } = await sql.query<{ bytes: number; entries: number }>("SELECT COALESCE(sum(size), 0)::bigint AS bytes, count(*)::bigint AS entries FROM cache_entries WHERE ns = 'tools'");
    return rows[0]!.bytes > CACHE_DISK_BYTES / 2 ? rows[0]! : null;
  }, 10_000, 'the shared cache to fill');
  assert.ok(filled.bytes <= CACHE_DISK_BYTES, `shared cache ${filled.bytes} bytes in ${filled.entries} entries, bound ${CACHE_DISK_BYTES}`);
  t.diagnostic(`shared cache after 24 large results from both replicas: ${filled.bytes} bytes in ${filled.entries} entries (bound ${CACHE_DISK_BYTES})`);

  // One audit log, each row naming the replica that served it; /metrics carries the name too.
  await Promise.all([a.host.audit.flush(), b.host.audit.flush()]);
  const audit = await a.host.audit.query({ teammate: 'alice', limit: 1000 });
  assert.deepEqual(new Set(audit.map((e) => e.replica)), new Set(['replica-a', 'replica-b']));
  assert.match(await b.host.observability.metrics.metricsText(), /replica="replica-b"/);

  // B holds a GET stream for alice; A revokes her: B refuses her and closes the stream.
  const headers = { ...authHeaders(token), Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json' };
  const init = await fetch(`${b.host.url}/mcp/fx`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'stream', version: '1' } } }),
  });
  assert.equal(init.status, 200);
  await init.text();
  const sessionHeaders = { ...headers, 'Mcp-Session-Id': init.headers.get('mcp-session-id')!, 'MCP-Protocol-Version': '2025-11-25' };
  await fetch(`${b.host.url}/mcp/fx`, { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) }).then((r) => r.text());
  const get = await fetch(`${b.host.url}/mcp/fx`, { headers: { ...sessionHeaders, Accept: 'text/event-stream' } });
  assert.equal(get.status, 200);
  let streamClosedAt = 0;
  const streamEnded = untilEnd(get.body!).then(() => (streamClosedAt = Date.now()));

  const revokedAt = Date.now();
  const revoked = await fetch(`${a.host.url}/admin/teammates/alice`, { method: 'DELETE', headers: { 'x-harbor-admin-secret': a.host.adminSecret } });
  assert.equal(revoked.status, 200);
  await revoked.text();
  const refusedAfter = await msUntil('B to refuse the revoked token', revokedAt, () => b.host.tokens.verify(token) === null);
  assert.equal(await initialize(b.host.url, token), 401);
  await Promise.race([streamEnded, new Promise((_, reject) => setTimeout(() => reject(new Error("B's GET stream still open 10 s after the revocation")), 10_000).unref())]);
  t.diagnostic(`revoked on A: refused by B after ${refusedAfter} ms, B's GET stream closed after ${streamClosedAt - revokedAt} ms`);
  assert.equal([...b.host.sessions.all()].filter((s) => s.teammate === 'alice').length, 0, "B ended alice's sessions");
});

test('the CLI with HARBOR_DATABASE_URL and no host of its own: a token it adds works on both replicas, one it revokes is refused by both', { skip }, async (t) => {
  const a = await startReplica('replica-a');
  t.after(() => a.close());
  const b = await startReplica('replica-b');
  t.after(() => b.close());
  const cliHome = tempHome();
  t.after(() => cliHome.cleanup());
  const env = { ...process.env, HARBOR_HOME: cliHome.home, HARBOR_DATABASE_URL: url };
  const added = await execFileP(process.execPath, [CLI, 'token', 'add', 'bob', '--json'], { env, timeout: 60_000 });
  const { token } = JSON.parse(added.stdout) as { token: string };
  const addedAt = Date.now();
  for (const replica of [a, b]) await msUntil(`${replica.host.url} to honour the CLI's token`, addedAt, () => replica.host.tokens.verify(token) !== null);
  assert.equal(await initialize(a.host.url, token), 200);
  assert.equal(await initialize(b.host.url, token), 200);

  const commandStarted = Date.now();
  const revoked = await execFileP(process.execPath, [CLI, 'token', 'revoke', 'bob'], { env, timeout: 60_000 });
  const revokedAt = Date.now();
  assert.match(revoked.stdout, /^Revoked bob in the shared database; every replica refuses it within a second/);
  const refused = await Promise.all([a, b].map((replica) => msUntil('the replicas to refuse the revoked token', revokedAt, () => replica.host.tokens.verify(token) === null)));
  assert.equal(await initialize(a.host.url, token), 401);
  assert.equal(await initialize(b.host.url, token), 401);
  // The CLI commits (and so notifies) before it exits: 0 ms here means both had refused it by then.
  t.diagnostic(`harbor token revoke ran ${revokedAt - commandStarted} ms (process start to exit); A and B refused the token ${Math.max(...refused)} ms after its exit`);
  const listed = await execFileP(process.execPath, [CLI, 'token', 'list', '--json'], { env, timeout: 60_000 });
  const bob = (JSON.parse(listed.stdout) as Array<{ name: string; revokedAt: number | null }>).find((m) => m.name === 'bob');
  assert.ok(bob?.revokedAt, 'the CLI lists bob as revoked, from the shared database');
});
