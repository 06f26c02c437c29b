import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { isAlive } from '../../server/supervision/process-tree.ts';
import { connectClient, fixtureServer, GENEROUS_LIMITS, startTestHost, textOf, waitFor, type TestHost } from '../helpers/harbor.ts';

// Defect 10 of issue 12: a hosted server frozen with SIGSTOP with 200 calls in flight left health
// green; only the 300 s per-call timeout would have noticed. Real host, real stdio fixture, real
// signals; the probe's intervals are shortened (a hidden host option) so the test is quick, and
// every wait is a bounded poll on a condition, never a duration.

const CALLS = 200;
const FAST = { overdueMs: 200, pingTimeoutMs: 300, checkEveryMs: 50 };

interface HealthBody {
  status: string;
  reasons: string[];
}

async function health(url: string): Promise<HealthBody> {
  return (await (await fetch(`${url}/health`)).json()) as HealthBody;
}

async function frozenFixture(liveness: object): Promise<{ h: TestHost; client: Client; pid: number; inFlight: () => number }> {
  const h = await startTestHost({ mcpServers: { fx: fixtureServer() }, limits: GENEROUS_LIMITS }, { liveness });
  const client = await connectClient(h.url, 'fx', h.token);
  const pid = Number(textOf(await client.callTool({ name: 'pid', arguments: {} })));
  // The first call of a tool never seen finishing runs alone (request-attribution.ts: it might ask its
  // caller something); one finished sleep lets the test's calls be in flight together.
  await client.callTool({ name: 'sleep', arguments: { ms: 1 } });
  const hosted = h.host.servers.get('fx')!;
  return { h, client, pid, inFlight: () => hosted.status().upstreams.reduce((n, u) => n + u.inFlight, 0) };
}

test('a frozen server turns health amber naming it, and green again once it wakes; every call completes', async () => {
  const { h, client, pid, inFlight } = await frozenFixture({ ...FAST, restartAfterMs: 0 });
  try {
    assert.equal((await health(h.url)).status, 'green');
    // Long enough that none finishes between "all in flight" and the SIGSTOP on a loaded machine.
    const calls = Array.from({ length: CALLS }, (_, i) =>
      client.callTool({ name: 'sleep', arguments: { ms: 3000 + i } }, undefined, { timeout: 120_000 }),
    );
    await waitFor(() => inFlight() === CALLS || null, 30_000, 'every call in flight');
    process.kill(pid, 'SIGSTOP');
    try {
      const amber = await waitFor(async () => {
        const body = await health(h.url);
        return body.status === 'amber' && body.reasons.some((r) => /^fx is not answering \(no reply to ping for \d+ s\)$/.test(r)) ? body : null;
      }, 30_000, 'health to turn amber naming fx');
      assert.ok(amber.reasons.length >= 1);
      assert.ok(inFlight() > 0, 'the calls are still waiting while it is frozen');
      const status = h.host.servers.get('fx')!.status();
      assert.ok(status.upstreams[0]!.unresponsiveForMs !== null);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const results = await Promise.all(calls);
    results.forEach((r, i) => assert.equal(textOf(r), `slept ${3000 + i}`));
    await waitFor(async () => ((await health(h.url)).status === 'green') || null, 30_000, 'health to turn green again');
    // Same process: waking up was enough, nothing was restarted.
    assert.equal(textOf(await client.callTool({ name: 'pid', arguments: {} })), String(pid));
  } finally {
    await client.close().catch(() => {});
    await h.close();
  }
});

test('a server still frozen past the bound is restarted: its callers get a clear error, not the 300 s timeout', async () => {
  const { h, client, pid, inFlight } = await frozenFixture({ ...FAST, restartAfterMs: 600 });
  try {
    const calls = Array.from({ length: 20 }, () =>
      client.callTool({ name: 'sleep', arguments: { ms: 60_000 } }, undefined, { timeout: 45_000 }).then(
        () => 'answered',
        (error: Error) => error.message,
      ),
    );
    await waitFor(() => inFlight() === 20 || null, 30_000, 'every call in flight');
    process.kill(pid, 'SIGSTOP');
    const outcomes = await Promise.all(calls);
    for (const outcome of outcomes) assert.match(outcome, /server "fx" was restarted \(not answering: no reply to ping for \d+ s\); the call was not completed/);
    await waitFor(() => !isAlive(pid) || null, 15_000, 'the frozen process to be gone');
    // A fresh process serves the next call.
    const fresh = Number(textOf(await client.callTool({ name: 'pid', arguments: {} })));
    assert.notEqual(fresh, pid);
    // The frozen spell's reason gives way to the restart's, which says why.
    const after = await waitFor(async () => {
      const body = await health(h.url);
      return !body.reasons.some((r) => r.includes('not answering')) && body.reasons.includes('fx: restarted once in 10 min (unresponsive)') ? body : null;
    }, 30_000, 'health to report the restart');
    assert.equal(after.status, 'amber');
  } finally {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await client.close().catch(() => {});
    await h.close();
  }
});
