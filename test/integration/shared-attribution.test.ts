import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, everythingConfig, startTestHost, textOf } from '../helpers/harbor.ts';

// Issue 14 item 3: on a shared upstream, server→client requests reach the teammate whose call sent
// them, every time, while both teammates have calls in flight (request-attribution.ts: the
// interactive lane and held requests), and never the other one.
describe('shared mode: sampling and elicitation reach the right teammate under concurrency', () => {
  for (const kind of ['sampling', 'elicitation'] as const) {
    test(`${kind}: 10 concurrent calls from two teammates, 10/10 to the right one, 0 to the other`, async () => {
      const h = await startTestHost(everythingConfig('shared'));
      const bobToken = h.host.tokens.issue('bob').token;
      const received: Record<string, number> = { alice: 0, bob: 0 };
      const connect = async (name: string, token: string) => {
        const client = await connectClient(h.url, 'everything', token, { name, capabilities: { sampling: {}, elicitation: {} } });
        client.setRequestHandler(CreateMessageRequestSchema, async () => {
          received[name]!++;
          return { model: 'm', role: 'assistant', content: { type: 'text', text: `sampled by ${name}` } };
        });
        client.setRequestHandler(ElicitRequestSchema, async () => {
          received[name]!++;
          return { action: 'accept', content: { name: `elicited by ${name}` } };
        });
        return client;
      };
      const alice = await connect('alice', h.token);
      const bob = await connect('bob', bobToken);
      try {
        const call = (client: typeof alice, who: string) => {
          const request = kind === 'sampling'
            ? { name: 'trigger-sampling-request', arguments: { prompt: `from ${who}`, maxTokens: 5 } }
            : { name: 'trigger-elicitation-request', arguments: {} };
          return client.callTool(request, undefined, { timeout: 60_000 }).then((r) => ({ who, ok: !r.isError, text: textOf(r) }), (e: Error) => ({ who, ok: false, text: e.message }));
        };
        const calls = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? call(alice, 'alice') : call(bob, 'bob')));
        const results = await Promise.all(calls);
        for (const r of results) {
          assert.equal(r.ok, true, `${r.who}: ${r.text}`);
          assert.match(r.text, new RegExp(`(sampled|elicited) by ${r.who}`), `${r.who}'s call got its own answer`);
          assert.doesNotMatch(r.text, new RegExp(`by ${r.who === 'alice' ? 'bob' : 'alice'}`));
        }
        assert.deepEqual(received, { alice: 5, bob: 5 });
      } finally {
        await alice.close();
        await bob.close();
        await h.close();
      }
    });
  }
});
