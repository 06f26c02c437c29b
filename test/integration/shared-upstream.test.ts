import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, EVERYTHING, everythingConfig, startTestHost, textOf, waitFor } from '../helpers/harbor.ts';

/** server-everything processes this test process started (other test files run in parallel). */
function everythingProcesses(): number {
  const out = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(EVERYTHING)).length;
}

describe('one shared upstream, many sessions', () => {
  test('25 concurrent sessions: every answer and progress note reaches its own session, one upstream process', async () => {
    const h = await startTestHost(everythingConfig('shared'));
    const clients: Client[] = [];
    try {
      for (let i = 0; i < 25; i++) clients.push(await connectClient(h.url, 'everything', h.token, { name: `c${i}` }));
      await Promise.all(
        clients.map(async (client, i) => {
          for (let round = 0; round < 4; round++) {
            const message = `client ${i} round ${round}`;
            assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message } })), `Echo: ${message}`);
          }
          const progress: Array<{ progress: number; total?: number }> = [];
          const steps = 2 + (i % 3);
          await client.callTool(
            { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps } },
            undefined,
            { onprogress: (p) => progress.push(p) },
          );
          // Each session's progress carries its own step count: a crossed notification would show another total.
          assert.ok(progress.length >= 1);
          for (const p of progress) assert.equal(p.total, steps, `client ${i} got a progress note of another session`);
        }),
      );
      const status = h.host.servers.get('everything')!.status();
      assert.equal(status.upstreams.length, 1);
      assert.equal(status.sessions, 25);
      assert.equal(everythingProcesses(), 1);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await h.close();
    }
  });

  for (const mode of ['shared', 'serial', 'isolated'] as const) {
    // Shared: B's request is held until A's call finishes (then B is the only one in flight), never refused or misdelivered.
    test(`${mode}: a sampling request while two sessions have calls in flight reaches the right session`, async () => {
      const h = await startTestHost(everythingConfig(mode));
      const sampledBy: string[] = [];
      const connect = async (name: string) => {
        const client = await connectClient(h.url, 'everything', h.token, { name, capabilities: { sampling: {} } });
        client.setRequestHandler(CreateMessageRequestSchema, async () => {
          sampledBy.push(name);
          return { model: 'm', role: 'assistant', content: { type: 'text', text: `answer from ${name}` } };
        });
        return client;
      };
      const a = await connect('A');
      const b = await connect('B');
      try {
        const slow = a.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1.5, steps: 3 } });
        // A's call has reached the upstream before B asks: waited for, not guessed with a 300 ms sleep.
        const inFlight = () => h.host.servers.get('everything')!.status().upstreams.reduce((n, u) => n + u.inFlight, 0);
        await waitFor(() => inFlight() === 1, 10_000, "A's call in flight");
        const sampled = b.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } }).then(
          (r) => ({ ok: !r.isError, text: textOf(r) }),
          (e: Error) => ({ ok: false, text: e.message }),
        );
        const [slowResult, samplingResult] = await Promise.all([slow, sampled]);
        assert.match(textOf(slowResult), /completed/i);
        assert.equal(samplingResult.ok, true, samplingResult.text);
        assert.match(samplingResult.text, /answer from B/);
        assert.deepEqual(sampledBy, ['B']);
        if (mode === 'isolated') assert.equal(h.host.servers.get('everything')!.status().upstreams.length, 2);
      } finally {
        await a.close();
        await b.close();
        await h.close();
      }
    });
  }
});
