/**
 * `harbor serve --container` as an orchestrator runs it: JSON logs on stdout naming the replica, the
 * admin API refused unless HARBOR_ADMIN_SECRET is given (and never visible to hosted servers), and
 * SIGTERM letting a running call finish before the process exits 0.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectClient, EVERYTHING, GENEROUS_LIMITS } from '../helpers/harbor.ts';
import { harborCli, startReplica, type Replica } from './nginx-harness.ts';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'harbor-container-mode-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } }, docs: false, limits: GENEROUS_LIMITS }));
  const home = join(dir, 'home');
  const token = (JSON.parse(harborCli(['token', 'add', 'alice', '--json'], { HARBOR_HOME: home })) as { token: string }).token;
  return { dir, config, home, token, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('SIGTERM: a call in flight finishes, then the process exits 0; every stdout line is JSON naming the replica', async () => {
  const { config, home, token, cleanup } = setup();
  const replica = await startReplica('drain-1', { home, config }).catch((error: Error) => {
    cleanup();
    throw error;
  });
  try {
    const client = await connectClient(`http://127.0.0.1:${replica.port}`, 'everything', token);
    let signalled = false;
    const call = client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } },
      undefined,
      {
        // The first progress proves the call is running on the upstream: that is when SIGTERM lands.
        onprogress: () => {
          if (signalled) return;
          signalled = true;
          replica.child.kill('SIGTERM');
        },
      },
    );
    const result = await call;
    assert.ok(signalled);
    assert.match(JSON.stringify(result.content), /Long running operation completed/);
    assert.equal(await replica.stop(), 0);
    assert.ok(replica.lines.some((l) => l.msg === 'stopping: draining in-flight calls'));
    assert.ok(replica.lines.length >= 3);
    for (const line of replica.lines) assert.equal(line.replica, 'drain-1', JSON.stringify(line));
    await client.close().catch(() => {});
  } finally {
    await replica.stop('SIGKILL');
    cleanup();
  }
});

test('the admin API answers only with HARBOR_ADMIN_SECRET, and hosted servers never see it', async () => {
  const { dir, config, home, cleanup } = setup();
  const home2 = join(dir, 'home2');
  const token2 = (JSON.parse(harborCli(['token', 'add', 'bob', '--json'], { HARBOR_HOME: home2 })) as { token: string }).token;
  const started: Replica[] = [];
  try {
    const off = await startReplica('admin-off', { home, config });
    started.push(off);
    const on = await startReplica('admin-on', { home: home2, config, env: { HARBOR_ADMIN_SECRET: 'container-admin-secret-123' } });
    started.push(on);
    const refused = await fetch(`http://127.0.0.1:${off.port}/admin/status`, { headers: { 'x-harbor-admin-secret': 'container-admin-secret-123' } });
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    const allowed = await fetch(`http://127.0.0.1:${on.port}/admin/status`, { headers: { 'x-harbor-admin-secret': 'container-admin-secret-123' } });
    assert.equal(allowed.status, 200);
    await allowed.body?.cancel();
    // The hosted server of the replica that holds the secret: its environment is the host's, minus the secret.
    const client = await connectClient(`http://127.0.0.1:${on.port}`, 'everything', token2);
    const env = await client.callTool({ name: 'get-env', arguments: {} });
    assert.doesNotMatch(JSON.stringify(env), /HARBOR_ADMIN_SECRET/);
    await client.close();
  } finally {
    await Promise.all(started.map((r) => r.stop()));
    cleanup();
  }
});

test('sign-in on: a real serve --container warns at start when HARBOR_PUBLIC_URL is unset, and when it is plain http off localhost; not when https', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'harbor-container-warn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ mcpServers: {}, docs: false, auth: 'both' }));
  const warningsAt = async (name: string, publicUrl: string | null) => {
    const replica = await startReplica(name, { home: join(dir, name), config, env: { HARBOR_PUBLIC_URL: publicUrl ?? '' } });
    try {
      return replica.lines.filter((l) => l.level === 40 || l.level === 'warn').map((l) => String(l.msg));
    } finally {
      assert.equal(await replica.stop(), 0);
    }
  };
  // Said before 'container ready', which startReplica waits for: every line of the start is in.
  const unset = await warningsAt('warn-unset', null);
  assert.equal(unset.filter((m) => /^sign-in is on but HARBOR_PUBLIC_URL is unset/.test(m)).length, 1, unset.join('\n'));
  const plain = await warningsAt('warn-http', 'http://mcp.example.com');
  assert.equal(plain.filter((m) => /^sign-in needs HARBOR_PUBLIC_URL to be https:\/\//.test(m)).length, 1, plain.join('\n'));
  const https = await warningsAt('warn-https', 'https://mcp.example.com');
  assert.deepEqual(https.filter((m) => /HARBOR_PUBLIC_URL/.test(m)), [], 'https: sign-in can work, nothing to say');
});
