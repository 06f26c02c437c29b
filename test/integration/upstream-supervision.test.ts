import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StateEvent } from '../../server/supervision/supervisor.ts';
import type { StdioUpstream } from '../../server/gateway/stdio-upstream.ts';
import { connectClient, fixtureServer, isAlive, startTestHost, textOf, waitFor } from '../helpers/harbor.ts';

const MB = 1024 * 1024;

function upstreamOf(h: Awaited<ReturnType<typeof startTestHost>>, name: string): StdioUpstream {
  // The shared router's upstream; status() exposes the pid, the supervisor is on the instance.
  const status = h.host.servers.get(name)!.status();
  assert.equal(status.upstreams.length, 1);
  return (h.host.servers.get(name) as unknown as { sharedUpstream(): StdioUpstream }).sharedUpstream();
}

describe('upstreams under the Supervisor', () => {
  test('a leaking server is restarted by the memory watchdog before 1.2x its limit; calls after it succeed', async (t) => {
    const h = await startTestHost(
      { mcpServers: { leaky: fixtureServer({ FIXTURE_LEAK_MB: '5' }, { memoryLimitMb: 150 }) } },
      { memorySampleMs: 100 },
    );
    const client = await connectClient(h.url, 'leaky', h.token);
    try {
      const upstream = upstreamOf(h, 'leaky');
      const memoryRestarts: StateEvent[] = [];
      upstream.supervisor.on('state', (e) => {
        if (e.rssBytes !== undefined) memoryRestarts.push(e);
      });
      let samples = 0;
      upstream.supervisor.on('memory', () => samples++);
      const firstPid = upstream.pid;
      let failures = 0;
      const deadline = Date.now() + 30_000;
      // One 5 MB step per watchdog sample: the leak cannot outrun the samples however the machine
      // schedules the host and the server, so the 1.2x bound below tests the watchdog's rule (3
      // samples over the limit) and not the machine's speed (a 50 ms sleep between steps raced them).
      // Bounded by count and time.
      for (let i = 0; i < 400 && memoryRestarts.length === 0 && Date.now() < deadline; i++) {
        await client.callTool({ name: 'leak', arguments: {} }).catch(() => failures++);
        const seen = samples;
        await waitFor(() => samples > seen || memoryRestarts.length > 0, 10_000, 'the next memory sample');
      }
      assert.ok(memoryRestarts.length >= 1, 'the watchdog restarted the server');
      const restart = memoryRestarts[0]!;
      t.diagnostic(`restarted at ${Math.round(restart.rssBytes! / MB)} MB after ${samples} samples`);
      assert.equal(restart.memoryLimitBytes, 150 * MB);
      assert.ok(restart.rssBytes! > 150 * MB && restart.rssBytes! < 1.2 * 150 * MB, `restarted at ${Math.round(restart.rssBytes! / MB)} MB`);
      await waitFor(() => upstream.up && upstream.pid !== firstPid, 15_000, 'the restarted server');
      assert.equal(upstream.info().memoryRestarts, 1);
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after restart' } })), 'after restart');
      assert.ok(failures <= 2, `${failures} calls failed around the restart`);
    } finally {
      await client.close();
      await h.close();
    }
  });

  test('kill -9 of an upstream mid-call: the caller gets the crash as an error at once, the session survives, the next call works', async () => {
    const h = await startTestHost({ mcpServers: { fx: fixtureServer() } });
    const client = await connectClient(h.url, 'fx', h.token);
    try {
      const pid = Number(textOf(await client.callTool({ name: 'pid', arguments: {} })));
      const call = client.callTool({ name: 'sleep', arguments: { ms: 20_000 } }).then(
        () => ({ ok: true, message: '' }),
        (error: Error) => ({ ok: false, message: error.message }),
      );
      await waitFor(() => h.host.servers.get('fx')!.status().upstreams[0]!.inFlight === 1, 10_000, 'the call in flight');
      process.kill(pid, 'SIGKILL');
      const outcome = await call;
      // The crash answers the call, not its 20 s sleep (no bound on elapsed time: the message says which).
      assert.equal(outcome.ok, false);
      assert.match(outcome.message, /crashed|killed|not completed/);
      const next = await client.callTool({ name: 'pid', arguments: {} });
      assert.notEqual(Number(textOf(next)), pid);
      assert.ok(!isAlive(pid));
    } finally {
      await client.close();
      await h.close();
    }
  });

  test('a planned restart replays read-only calls in flight; other calls get an error', async () => {
    const h = await startTestHost({ mcpServers: { fx: fixtureServer() } });
    const client = await connectClient(h.url, 'fx', h.token);
    try {
      const before = Number(textOf(await client.callTool({ name: 'pid', arguments: {} })));
      // A tool never seen finishing waits for the interactive lane (request-attribution.ts): once each
      // has finished without asking anything, the two run side by side, as the restart below needs.
      await client.callTool({ name: 'read_slowly', arguments: { ms: 0 } });
      await client.callTool({ name: 'sleep', arguments: { ms: 0 } });
      // Both calls outlast the restart by far (the write's sleep never ends on its own in this test);
      // the restart is asked for once both are in flight, not after a guessed delay.
      const read = client.callTool({ name: 'read_slowly', arguments: { ms: 5000 } });
      const write = client.callTool({ name: 'sleep', arguments: { ms: 600_000 } }).then(
        () => 'completed',
        (error: Error) => error.message,
      );
      await waitFor(() => h.host.servers.get('fx')!.status().upstreams[0]!.inFlight === 2, 10_000, 'both calls in flight');
      const res = await fetch(`${h.url}/admin/servers/fx/restart`, { method: 'POST', headers: { 'x-harbor-admin-secret': h.host.adminSecret } });
      assert.equal(res.status, 200);
      const readResult = textOf(await read);
      assert.match(readResult, /^read by \d+$/);
      assert.notEqual(Number(readResult.split(' ').pop()), before, 'answered by the restarted process');
      assert.match(await write, /restarted/);
    } finally {
      await client.close();
      await h.close();
    }
  });

  test('a server that exits at once reaches errored by the crash-loop rule, and calls fail fast saying why', async () => {
    const h = await startTestHost({
      mcpServers: { broken: fixtureServer({ FIXTURE_EXIT_AT_ONCE: '1' }, { restart: { maxCrashes: 3, windowSeconds: 60 } }) },
    });
    try {
      const upstream = upstreamOf(h, 'broken');
      await waitFor(() => upstream.supervisor.state === 'errored', 20_000, 'errored');
      const info = upstream.info();
      assert.match(info.lastError ?? '', /code 7|crash/);
      const res = await fetch(`${h.url}/mcp/broken`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
      });
      const body = (await res.json()) as { error?: { message: string } };
      assert.match(body.error?.message ?? '', /did not initialise/);
    } finally {
      await h.close();
    }
  });

  test('a server that ignores SIGTERM is killed after the grace period, with its own child', async () => {
    const h = await startTestHost({ mcpServers: { stubborn: fixtureServer({ FIXTURE_IGNORE_SIGTERM: '1' }) } });
    const upstream = upstreamOf(h, 'stubborn');
    await waitFor(() => upstream.up, 10_000, 'the server');
    const grandchild = Number(
      (await waitFor(() => upstream.supervisor.log.tail(50).find((l) => l.line.includes('grandchild')), 10_000, 'the grandchild')).line.split(' ').pop(),
    );
    const pid = upstream.pid!;
    assert.ok(isAlive(pid) && isAlive(grandchild));
    const started = Date.now();
    await h.close();
    const took = Date.now() - started;
    assert.ok(!isAlive(pid), 'server gone');
    assert.ok(!isAlive(grandchild), 'grandchild gone');
    assert.ok(took >= 4000, `stopped after ${took} ms: the grace period was honoured`);
  });
});
