/**
 * Sign in with Harbor behind the exported nginx (issue 18): a real `harbor serve --container` with auth
 * "both" and HARBOR_PUBLIC_URL naming nginx's address, a real nginx running the exported nginx.conf in
 * front of it. OAuth discovery through nginx names the public URL only (never the replica's loopback
 * port), whatever X-Forwarded-Host a client sends; the MCP SDK client's own OAuth flow runs through
 * nginx end to end; invites and `harbor token add` hand out the public URL.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { EVERYTHING, textOf } from '../helpers/harbor.ts';
import { adminFetch, MemoryOAuthClient, openAuthorize, pollWait, submitSignIn } from '../helpers/oauth-browser.ts';
import { freePort, harborCli, NGINX, rewriteNginxConf, startNginx, startReplica, type Nginx, type Replica } from './nginx-harness.ts';

const skip = !existsSync(NGINX) ? `${NGINX} is missing: apt-get install -y nginx-light (.ci/run installs it)` : false;
const ADMIN_SECRET = 'nginx-sign-in-test-admin-secret';

let dir = '';
let nginx: Nginx | null = null;
let replica: Replica | null = null;
/** Where teammates reach Harbor: nginx, on a loopback port here (https://mcp.example.com in production). */
let publicUrl = '';
/** The replica's own address, which nothing handed out may name. */
let direct = '';

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'harbor-nginx-sign-in-'));
  chmodSync(dir, 0o755); // nginx's workers run as nobody and write their temp files here
  // In the replica's home, where `harbor token add` run in the container reads it too.
  mkdirSync(join(dir, 'harbor-1'));
  const config = join(dir, 'harbor-1', 'config.json');
  writeFileSync(config, JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } }, docs: false, auth: 'both' }));
  harborCli(['export', join(dir, 'bundle'), '--config', config, '--json'], { HARBOR_HOME: join(dir, 'laptop') });
  const ports = { nginx: await freePort(), replica: await freePort() };
  publicUrl = `http://127.0.0.1:${ports.nginx}`;
  direct = `http://127.0.0.1:${ports.replica}`;
  // No HARBOR_ALLOWED_HOSTS: the public URL's host is allowed because it is the public URL.
  replica = await startReplica('harbor-1', {
    home: join(dir, 'harbor-1'),
    config,
    env: { PORT: String(ports.replica), HARBOR_PUBLIC_URL: `${publicUrl}/`, HARBOR_ADMIN_SECRET: ADMIN_SECRET },
  });
  // The bundle's two upstreams both lead to the one replica: sign-in state lives in its memory here
  // (with PostgreSQL any replica completes a sign-in another started: test/integration/oauth-replicas.test.ts).
  const conf = rewriteNginxConf(readFileSync(join(dir, 'bundle', 'nginx.conf'), 'utf8'), {
    dir: join(dir, 'nginx'),
    port: ports.nginx,
    upstreams: { 'harbor-1': ports.replica, 'harbor-2': ports.replica },
  });
  nginx = await startNginx(conf, join(dir, 'nginx'), ports.nginx);
});

after(async () => {
  await nginx?.stop();
  await replica?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const json = async (res: Response) => (await res.json()) as Record<string, unknown>;

test('the bundle passes HARBOR_PUBLIC_URL through compose, .env.example and the k8s Deployment', { skip }, () => {
  const bundle = (name: string) => readFileSync(join(dir, 'bundle', name), 'utf8');
  assert.equal((bundle('compose.yaml').match(/HARBOR_PUBLIC_URL: \$\{HARBOR_PUBLIC_URL:-\}/g) ?? []).length, 2, 'each replica');
  assert.match(bundle('.env.example'), /^HARBOR_PUBLIC_URL=$/m);
  assert.match(bundle('k8s/deployment.yaml'), /- name: HARBOR_PUBLIC_URL\n\s+value: "https:\/\/mcp\.example\.com"/);
  assert.match(bundle('README.md'), /## Public URL/);
  assert.equal(replica!.lines.find((l) => l.msg === 'container ready')?.publicUrl, publicUrl);
});

test('OAuth discovery through nginx names the public URL, whatever X-Forwarded-Host says', { skip }, async () => {
  const unauthorized = await fetch(`${publicUrl}/everything/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  assert.equal(unauthorized.status, 401);
  const challenge = unauthorized.headers.get('www-authenticate') ?? '';
  assert.match(challenge, new RegExp(`resource_metadata="${publicUrl}/\\.well-known/oauth-protected-resource/everything/mcp"`));

  const resource = await json(await fetch(`${publicUrl}/.well-known/oauth-protected-resource/everything/mcp`, { headers: { 'X-Forwarded-Host': 'evil.example' } }));
  assert.equal(resource.resource, `${publicUrl}/everything/mcp`);
  assert.deepEqual(resource.authorization_servers, [`${publicUrl}/`]);

  const server = await json(await fetch(`${publicUrl}/.well-known/oauth-authorization-server`));
  assert.equal(server.issuer, `${publicUrl}/`);
  for (const key of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint']) {
    assert.ok(String(server[key]).startsWith(`${publicUrl}/`), `${key}: ${server[key]}`);
  }
  const everything = JSON.stringify([challenge, resource, server]);
  assert.ok(!everything.includes(direct) && !everything.includes('evil.example'), 'neither the replica\'s own address nor a forwarded host');
  // A browser on the public URL's pages (the sign-in form posts from there) passes the Origin check; another site does not.
  assert.equal((await fetch(`${publicUrl}/.well-known/oauth-authorization-server`, { headers: { Origin: publicUrl } })).status, 200);
  assert.equal((await fetch(`${publicUrl}/.well-known/oauth-authorization-server`, { headers: { Origin: 'https://evil.example' } })).status, 403);
  // The owner's own client on the replica's loopback keeps the address it used.
  assert.equal((await json(await fetch(`${direct}/.well-known/oauth-authorization-server`))).issuer, `${direct}/`);
});

test('the MCP SDK client signs in through nginx, is approved, calls a tool; invites and token bundles name the public URL', { skip }, async () => {
  const url = new URL(`${publicUrl}/everything/mcp`);
  const provider = new MemoryOAuthClient({ name: 'Claude Code' });
  const first = new Client({ name: 'nginx-sign-in', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await assert.rejects(first.connect(transport), UnauthorizedError);
  const authorization = provider.authorizationUrl!;
  assert.equal(authorization.origin, publicUrl, 'the client is sent to nginx\'s sign-in page');
  assert.equal(authorization.searchParams.get('resource'), `${publicUrl}/everything/mcp`);

  // The browser step, through nginx; the owner approves on the replica's own loopback (the admin API is never proxied).
  const page = await openAuthorize(authorization);
  assert.equal(page.status, 200, page.html.slice(0, 300));
  const submitted = await submitSignIn(publicUrl, page, { name: 'alice' }, page.cookie);
  await submitted.arrayBuffer();
  assert.equal(submitted.status, 303);
  assert.equal((await adminFetch(publicUrl, ADMIN_SECRET, 'POST', `/admin/approvals/${page.requestId}/approve`)).status, 403, 'no approving through nginx');
  const approved = await adminFetch(direct, ADMIN_SECRET, 'POST', `/admin/approvals/${page.requestId}/approve`);
  assert.equal(approved.status, 200, await approved.clone().text());
  const back = await pollWait(publicUrl, page);
  await back.arrayBuffer();
  assert.equal(back.status, 302);
  const redirect = new URL(back.headers.get('location')!);
  assert.equal(redirect.searchParams.get('iss'), `${publicUrl}/`);
  await transport.finishAuth(redirect.searchParams.get('code')!);

  const client = new Client({ name: 'nginx-sign-in', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  try {
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'through nginx' } })), 'Echo: through nginx');
  } finally {
    await client.close();
  }

  const invite = await json(await adminFetch(direct, ADMIN_SECRET, 'POST', '/admin/invites', { name: 'bob' }));
  assert.deepEqual(invite.urls, [`${publicUrl}/everything/mcp`]);
  // `harbor token add` in the container (the store itself: a container's CLI has no admin.secret file).
  const added = JSON.parse(harborCli(['token', 'add', 'carol', '--json'], { HARBOR_HOME: join(dir, 'harbor-1'), HARBOR_PUBLIC_URL: publicUrl })) as { bundles: Array<{ url: string }> };
  assert.deepEqual(added.bundles.map((b) => b.url), [`${publicUrl}/everything/mcp`]);
});
