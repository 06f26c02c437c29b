import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ADMIN_SECRET_HEADER } from '../../server/admin/admin-api.ts';
import { readAdminSecret } from '../../server/admin/admin-secret.ts';
import { descendantsIn, isAlive, readProcessTable } from '../../server/supervision/process-tree.ts';
import { connectClient, fixtureServer, GENEROUS_LIMITS, ROOT, tempHome, textOf, waitFor } from '../helpers/harbor.ts';
import { CLI, spawnServe, type ServeProcess } from '../helpers/harbor-cli.ts';

const STANDIN = join(ROOT, 'test/fixtures/cloudflared-standin/cloudflared');
const run = promisify(execFile);

interface StandinState {
  hostname: string;
  proxyUrl: string;
  pid: number;
}

function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/health`, { headers: { Host: host } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

function harness(extraEnv: Record<string, string> = {}) {
  const { home, cleanup } = tempHome();
  const stateFile = join(home, 'standin.json');
  const env = { ...process.env, HARBOR_HOME: home, HARBOR_CLOUDFLARED: STANDIN, STANDIN_STATE_FILE: stateFile, ...extraEnv };
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { env, timeout: 60_000 });
  const standin = () => {
    try {
      return JSON.parse(readFileSync(stateFile, 'utf8')) as StandinState;
    } catch {
      return null;
    }
  };
  let serve: ServeProcess | null = null;
  const start = () => {
    serve = spawnServe(env);
    return serve.url;
  };
  const stop = async () => {
    if (!serve || serve.child.exitCode !== null) return;
    const tree = descendantsIn(await readProcessTable(), serve.child.pid!);
    serve.child.kill('SIGTERM');
    await serve.exited;
    await waitFor(() => tree.every((pid) => !isAlive(pid)) || null, 10_000, 'no process left');
  };
  return { home, env, cli, standin, start, stop, cleanup };
}

test('share: quick tunnel through the stand-in; a restart publishes a new URL and the same token works there', async () => {
  const t = harness();
  writeFileSync(join(t.home, 'config.json'), JSON.stringify({ docs: { folder: 'docs' }, mcpServers: { fx: fixtureServer() }, limits: GENEROUS_LIMITS }));
  try {
    const hostUrl = await t.start();
    const token = (JSON.parse((await t.cli('token', 'add', 'alice', '--json')).stdout) as { token: string }).token;
    const shared = JSON.parse((await t.cli('share', '--json')).stdout) as { state: string; publicUrl: string; mode: string; degradedReason?: string };
    assert.equal(shared.state, 'online');
    assert.equal(shared.mode, 'quick');
    assert.match(shared.publicUrl, /^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
    assert.match(shared.degradedReason ?? '', /buffer SSE/);
    const first = t.standin()!;
    assert.equal(`https://${first.hostname}`, shared.publicUrl);

    // A teammate through the tunnel: the edge sends Host = the public hostname, which Harbor now allows.
    const client = await connectClient(first.proxyUrl, 'docs', token);
    assert.match(textOf(await client.callTool({ name: 'list_docs', arguments: {} })), /welcome/);
    const throughTunnel = JSON.parse((await t.cli('status', '--json')).stdout) as { share: { connections: number } };
    assert.equal(throughTunnel.share.connections, 1, 'the session opened through the tunnel is counted');
    await client.close();

    // Quick mode: a slow call is still answered with JSON, never an SSE stream the edge would buffer.
    const init = await fetch(`${first.proxyUrl}/mcp/fx`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    const session = init.headers.get('mcp-session-id')!;
    await init.arrayBuffer();
    const slow = await fetch(`${first.proxyUrl}/mcp/fx`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'mcp-session-id': session },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'sleep', arguments: { ms: 1500 } } }),
    });
    assert.match(slow.headers.get('content-type') ?? '', /application\/json/);
    assert.match(JSON.stringify(await slow.json()), /slept 1500/);

    // The admin API is not reachable through the tunnel, even with the secret.
    const secret = readAdminSecret(t.home)!;
    const viaTunnel = await fetch(`${first.proxyUrl}/admin/status`, { headers: { [ADMIN_SECRET_HEADER]: secret } });
    assert.equal(viaTunnel.status, 403);

    // cloudflared dies: Harbor restarts it and publishes the new URL.
    process.kill(first.pid, 'SIGKILL');
    const second = await waitFor(() => {
      const now = t.standin();
      return now && now.pid !== first.pid && now.hostname !== first.hostname ? now : null;
    }, 30_000, 'a new tunnel');
    const status = await waitFor(async () => {
      const s = JSON.parse((await t.cli('status', '--json')).stdout) as { share: { publicUrl: string; state: string } };
      return s.share.publicUrl === `https://${second.hostname}` && s.share.state === 'online' ? s : null;
    }, 30_000, 'the new URL to be published');
    assert.equal(status.share.publicUrl, `https://${second.hostname}`);
    await assert.rejects(fetch(`${first.proxyUrl}/health`), 'the old URL stopped working');
    const again = await connectClient(second.proxyUrl, 'docs', token);
    assert.match(textOf(await again.callTool({ name: 'list_docs', arguments: {} })), /welcome/);
    await again.close();
    // The old public hostname is no longer an allowed Host; the new one is.
    assert.equal(await statusWithHost(hostUrl, first.hostname), 403);
    assert.equal(await statusWithHost(hostUrl, second.hostname), 200);

    await t.cli('unshare');
    const off = JSON.parse((await t.cli('status', '--json')).stdout) as { share: { state: string } };
    assert.equal(off.share.state, 'off');
    await waitFor(() => !isAlive(second.pid) || null, 10_000, 'cloudflared to stop');
  } finally {
    await t.stop();
    t.cleanup();
  }
});

test('share: a missing binary and a URL that never comes are clear errors, and the tunnel is down', async () => {
  const missing = harness({ HARBOR_CLOUDFLARED: '/nonexistent/cloudflared' });
  try {
    await missing.start();
    const result = await missing.cli('share').then(
      () => ({ code: 0, text: '' }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, text: e.stdout + e.stderr }),
    );
    assert.notEqual(result.code, 0);
    assert.match(result.text, /cloudflared/);
    assert.match(result.text, /HARBOR_CLOUDFLARED|install/i);
  } finally {
    await missing.stop();
    missing.cleanup();
  }
  const hang = harness({ STANDIN_HANG: '1', HARBOR_TUNNEL_TIMEOUT_SECONDS: '2' });
  try {
    await hang.start();
    const result = await hang.cli('share', '--json').then(
      (r) => JSON.parse(r.stdout) as { state: string; lastError: string },
      (e: { stdout: string }) => JSON.parse(e.stdout) as { state: string; lastError: string },
    );
    assert.equal(result.state, 'down');
    assert.match(result.lastError, /time|within|no URL|did not/i);
  } finally {
    await hang.stop();
    hang.cleanup();
  }
});

test('share --named: the token goes to the keychain or a 0600 file, never to config or a command line, and is reused', async () => {
  const t = harness();
  try {
    await t.start();
    // The shape of a real tunnel token: base64 JSON with account, tunnel id and secret.
    const secretToken = Buffer.from(JSON.stringify({ a: 'account', t: '6ff42ae2-765d-4adf-8112-31c55c1551ef', s: 'c2VjcmV0' })).toString('base64');
    const shared = JSON.parse((await t.cli('share', '--named', secretToken, '--hostname', 'mcp.example.com', '--json')).stdout) as { state: string; publicUrl: string; mode: string };
    assert.equal(shared.mode, 'named');
    assert.equal(shared.publicUrl, 'https://mcp.example.com');
    const standin = await waitFor(() => t.standin(), 10_000, 'the stand-in state');
    const cmdline = readFileSync(`/proc/${standin.pid}/cmdline`, 'utf8');
    assert.ok(!cmdline.includes(secretToken), 'the token is not on the command line');
    // No OS keychain on this machine: the 0600 file.
    const file = join(t.home, 'tunnel-token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8'), secretToken);
    for (const name of ['config.json', 'share.json']) {
      try {
        assert.ok(!readFileSync(join(t.home, name), 'utf8').includes(secretToken), `${name} holds the token`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    await t.cli('unshare');
    const again = JSON.parse((await t.cli('share', '--hostname', 'mcp.example.com', '--json')).stdout) as { state: string; mode: string };
    assert.equal(again.mode, 'named');
    assert.equal(again.state, 'online');
  } finally {
    await t.stop();
    t.cleanup();
  }
});
