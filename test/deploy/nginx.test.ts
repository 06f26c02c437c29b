/**
 * The exported nginx.conf, run by a real nginx (Debian's), in front of two real
 * `harbor serve --container` replicas on loopback: sessions stay on the replica that created them,
 * idle streams outlive the proxy's read timeout on heartbeats, and a dead replica's traffic moves.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectClient, EVERYTHING, GENEROUS_LIMITS } from '../helpers/harbor.ts';
import { freePort, harborCli, NGINX, rewriteNginxConf, startNginx, startReplica, type Nginx, type Replica } from './nginx-harness.ts';

const skip = existsSync(NGINX) ? false : `${NGINX} is missing: apt-get install -y nginx-light (.ci/run installs it)`;
const READ_TIMEOUT_SECONDS = 2;

let dir = '';
let token = '';
let nginx: Nginx | null = null;
const replicas: Replica[] = [];
let base = '';
const clients: Client[] = [];

const sessionOf = (client: Client) => (client.transport as StreamableHTTPClientTransport).sessionId ?? '';
const replicaOf = (client: Client) => sessionOf(client).split('.')[0];

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'harbor-nginx-'));
  chmodSync(dir, 0o755); // nginx's workers run as nobody and write their temp files here
  const laptop = join(dir, 'laptop');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } }, docs: false, limits: GENEROUS_LIMITS }));
  // The team's token, issued on "the laptop" and moved by the bundle as a hash.
  token = (JSON.parse(harborCli(['token', 'add', 'alice', '--json'], { HARBOR_HOME: laptop })) as { token: string }).token;
  harborCli(['export', join(dir, 'bundle'), '--config', config, '--with-tokens', '--json'], { HARBOR_HOME: laptop });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    HARBOR_TOKENS_FILE: join(dir, 'bundle', 'tokens.json'),
    HARBOR_HEARTBEAT_SECONDS: '0.5',
    // Bound to loopback, the host checks Host: nginx passes the client's, which names nginx's port.
    HARBOR_ALLOWED_HOSTS: `127.0.0.1:${port}`,
  };
  for (const name of ['harbor-1', 'harbor-2']) replicas.push(await startReplica(name, { home: join(dir, name), config, env }));
  const conf = rewriteNginxConf(readFileSync(join(dir, 'bundle', 'nginx.conf'), 'utf8'), {
    dir: join(dir, 'nginx'),
    port,
    upstreams: Object.fromEntries(replicas.map((r) => [r.name, r.port])),
    readTimeoutSeconds: READ_TIMEOUT_SECONDS,
  });
  nginx = await startNginx(conf, join(dir, 'nginx'), port);
});

after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await nginx?.stop();
  await Promise.all(replicas.map((r) => r.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('each replica imported the laptop\'s teammate from tokens.json; a tool call through nginx works', { skip }, async () => {
  for (const replica of replicas) assert.ok(replica.lines.some((l) => l.msg === 'teammates imported' && l.added === 1), replica.name);
  const client = await connectClient(base, 'everything', token);
  clients.push(client);
  const result = await client.callTool({ name: 'echo', arguments: { message: 'through nginx' } });
  assert.deepEqual(result.content, [{ type: 'text', text: 'Echo: through nginx' }]);
  assert.match(sessionOf(client), /^harbor-[12]\.[0-9a-f-]{36}$/);
});

test('one 2025 session: 50 requests through nginx all reach the replica that created it; new sessions spread over both', { skip }, async () => {
  const client = await connectClient(base, 'everything', token);
  clients.push(client);
  // The other replica does not know the session and would answer 404: one misrouted request fails the loop.
  for (let i = 0; i < 50; i++) {
    const result = await client.callTool({ name: 'echo', arguments: { message: `n${i}` } });
    assert.deepEqual(result.content, [{ type: 'text', text: `Echo: n${i}` }]);
  }
  const more = await Promise.all([0, 1, 2, 3].map(() => connectClient(base, 'everything', token)));
  clients.push(...more);
  assert.deepEqual(new Set([client, ...more].map(replicaOf)), new Set(['harbor-1', 'harbor-2']));
});

test('legacy HTTP+SSE through nginx: the POSTs find the replica holding the stream by the sessionId parameter', { skip }, async () => {
  const legacy = await Promise.all([0, 1, 2, 3].map(() => connectClient(base, 'everything', token, { legacy: true })));
  clients.push(...legacy);
  for (const client of legacy) {
    for (let i = 0; i < 5; i++) {
      const result = await client.callTool({ name: 'echo', arguments: { message: `legacy ${i}` } });
      assert.deepEqual(result.content, [{ type: 'text', text: `Echo: legacy ${i}` }]);
    }
  }
});

test('an idle SSE stream outlives nginx\'s read timeout on heartbeats', { skip }, async () => {
  // A session opened by hand: the SDK client would open the session's one GET stream itself.
  const headers = { Authorization: `Bearer ${token}`, 'MCP-Protocol-Version': '2025-11-25', Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json' };
  const init = await fetch(`${base}/mcp/everything`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'sse-idle', version: '1' } } }),
  });
  assert.equal(init.status, 200);
  await init.text();
  const session = init.headers.get('mcp-session-id')!;
  const initialized = await fetch(`${base}/mcp/everything`, { method: 'POST', headers: { ...headers, 'Mcp-Session-Id': session }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  assert.equal(initialized.status, 202);
  const controller = new AbortController();
  const response = await fetch(`${base}/mcp/everything`, {
    headers: { ...headers, Accept: 'text/event-stream', 'Mcp-Session-Id': session },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const started = Date.now();
  let beats = 0;
  // Read until the stream has been open for three read timeouts; nginx would have closed a silent one
  // after the first (the read then ends with done=true and the assertion below fails).
  while (Date.now() - started < 3 * READ_TIMEOUT_SECONDS * 1000) {
    const { value, done } = await reader.read();
    assert.equal(done, false, `nginx closed the stream after ${Date.now() - started} ms and ${beats} heartbeats`);
    beats += (decoder.decode(value, { stream: true }).match(/: keep-alive/g) ?? []).length;
  }
  assert.ok(beats >= 3, `${beats} heartbeats`);
  controller.abort();
});

test('a replica killed: new sessions go to the other, and its old sessions get 404 (clients re-initialise)', { skip }, async () => {
  const victim = replicas[0]!;
  const old = clients.find((c) => replicaOf(c) === victim.name)!;
  assert.ok(old, 'a session on the first replica from the earlier tests');
  await victim.stop('SIGKILL');
  const fresh = await Promise.all([0, 1, 2, 3].map(() => connectClient(base, 'everything', token)));
  clients.push(...fresh);
  assert.deepEqual(fresh.map(replicaOf), ['harbor-2', 'harbor-2', 'harbor-2', 'harbor-2']);
  const result = await fresh[0]!.callTool({ name: 'echo', arguments: { message: 'survivor' } });
  assert.deepEqual(result.content, [{ type: 'text', text: 'Echo: survivor' }]);
  const orphan = await fetch(`${base}/mcp/everything`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Mcp-Session-Id': sessionOf(old), 'MCP-Protocol-Version': '2025-11-25' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(orphan.status, 404);
  await orphan.body?.cancel();
});
