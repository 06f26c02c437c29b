import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { descendantsIn, isAlive, readProcessTable } from '../../server/supervision/process-tree.ts';
import { connectClient, everythingConfig, fixtureServer, tempHome, textOf, waitFor } from '../helpers/harbor.ts';
import { harbor, spawnServe, type ServeProcess } from '../helpers/harbor-cli.ts';

function serve(home: string): ServeProcess {
  return spawnServe({ ...process.env, HARBOR_HOME: home, HARBOR_LOG_LEVEL: 'info' });
}

async function status(home: string): Promise<string> {
  const { stdout } = await harbor(home, 'status');
  return stdout;
}

test('harbor serve: a killed host child comes back on the same port, tokens survive, clients re-initialise; SIGTERM leaves no process', async () => {
  const { home, cleanup } = tempHome();
  writeFileSync(join(home, 'config.json'), JSON.stringify(everythingConfig()));
  const { stdout: issued } = await harbor(home, 'token', 'add', 'alice', '--json');
  const { token } = JSON.parse(issued) as { token: string };
  const s = serve(home);
  try {
    const url = await s.url;
    const client = await connectClient(url, 'everything', token);
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'before' } })), 'Echo: before');
    const sessionId = (client.transport as { sessionId?: string }).sessionId!;

    const table = await readProcessTable();
    const hostPid = table.find((p) => p.ppid === s.child.pid)!.pid;
    process.kill(hostPid, 'SIGKILL');
    // Back on the same port: a fresh host answers /health.
    await waitFor(async () => {
      const res = await fetch(`${url}/health`).catch(() => null);
      return res?.ok ? true : null;
    }, 30_000, 'the host to come back');
    const newHostPid = (await readProcessTable()).find((p) => p.ppid === s.child.pid)!.pid;
    assert.notEqual(newHostPid, hostPid);

    // The old session is gone (404 tells clients to re-initialise); the token still works.
    const old = await fetch(`${url}/mcp/everything`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId },
      body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }),
    });
    assert.equal(old.status, 404);
    await client.close().catch(() => {});
    const again = await connectClient(url, 'everything', token);
    assert.equal(textOf(await again.callTool({ name: 'echo', arguments: { message: 'after' } })), 'Echo: after');
    await again.close();

    const report = await status(home);
    assert.match(report, /host\s+online\s+\d+\s+\S+\s+1\s/);
    assert.match(report, /everything\s+online/);

    // Everything harbor serve started, children and grandchildren.
    const started = descendantsIn(await readProcessTable(), s.child.pid!);
    assert.ok(started.length >= 2, `expected host and upstream, saw ${started.length}`);
    s.child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => s.child.once('exit', resolve));
    assert.equal(code, 0);
    await waitFor(() => started.every((pid) => !isAlive(pid)) || null, 10_000, 'every started process to end');
  } finally {
    s.child.kill('SIGKILL');
    cleanup();
  }
});

test('harbor status says why a crash-looping server is errored', async () => {
  const { home, cleanup } = tempHome();
  writeFileSync(
    join(home, 'config.json'),
    JSON.stringify({ mcpServers: { broken: fixtureServer({ FIXTURE_EXIT_AT_ONCE: '1' }, { restart: { maxCrashes: 2, windowSeconds: 60 } }) } }),
  );
  const s = serve(home);
  try {
    await s.url;
    const report = await waitFor(async () => {
      const text = await status(home);
      return /broken\s+errored/.test(text) ? text : null;
    }, 20_000, 'broken to be errored');
    assert.match(report, /broken\s+errored.*(code 7|crash)/);
    const { stdout } = await harbor(home, 'status', '--json');
    const json = JSON.parse(stdout) as { servers: Array<{ name: string; upstreams: Array<{ process: { state: string; lastError: string } }> }> };
    const broken = json.servers.find((x) => x.name === 'broken')!;
    assert.equal(broken.upstreams[0]!.process.state, 'errored');
  } finally {
    s.child.kill('SIGTERM');
    await new Promise((resolve) => s.child.once('exit', resolve));
    cleanup();
  }
});
