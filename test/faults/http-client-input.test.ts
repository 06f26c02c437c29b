/**
 * Issue 12, defect 3 (HTTP part): a teammate's body nested deep, or of the wrong shape, gets a 400
 * with a JSON-RPC error on every transport (before the 202 on legacy `/messages`), never a 500 or a
 * crash, and the session keeps working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../server/logger.ts';
import { forwardMessages } from '../../server/http/forward-messages.ts';
import type { HostedServer } from '../../server/gateway/hosted-server.ts';
import type { JsonRpcMessage } from '../../server/gateway/jsonrpc.ts';
import { fixtureServer, GENEROUS_LIMITS, startTestHost, waitFor, type TestHost } from '../helpers/harbor.ts';
import { openLegacy, openStreamable, type RawSession } from '../helpers/raw-sessions.ts';

const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
const call = (id: number, args: string) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"message":${args}}}}`;

const DEEP_BODIES: Array<[string, string]> = [
  ['params nested 5 000 deep (arrays)', call(11, deepArray(5000))],
  ['params nested 100 000 deep (objects)', call(12, deepObject(100_000))],
  ['a batch with one deep member', `[${call(13, '"fine"')},${call(14, deepArray(2000))}]`],
  ['a deep top-level value', deepArray(100_000)],
];

function errorOf(text: string): { code: number; message: string } {
  return (JSON.parse(text) as { error: { code: number; message: string } }).error;
}

describe('deep and malformed client bodies', () => {
  let h: TestHost;
  const sessions: RawSession[] = [];

  before(async () => {
    h = await startTestHost({ mcpServers: { fx: fixtureServer({}, { mode: 'serial' }) }, limits: GENEROUS_LIMITS });
  });
  after(async () => {
    for (const s of sessions) await s.close();
    await h.close();
  });

  for (const kind of ['streamable', 'url-token', 'legacy'] as const) {
    test(`${kind}: too-deep bodies get 400 / -32600 and the session still answers`, async () => {
      const session = kind === 'legacy' ? await openLegacy(h.url, 'fx', h.token) : await openStreamable(h.url, 'fx', h.token, kind === 'url-token');
      sessions.push(session);
      const upstreamPid = h.host.servers.get('fx')!.status().upstreams[0]?.pid;
      for (const [what, body] of DEEP_BODIES) {
        const res = await session.post(body);
        assert.equal(res.status, 400, `${what}: ${res.text.slice(0, 200)}`);
        const error = errorOf(res.text);
        assert.equal(error.code, -32600, what);
        assert.match(error.message, /nested deeper than 512/, what);
      }
      // Broken JSON is a parse error, still a 400 before any 202.
      const broken = await session.post('{"jsonrpc":"2.0","id":1,');
      assert.equal(broken.status, 400);
      assert.equal(errorOf(broken.text).code, -32700);
      // The same session, the same upstream process, still serve.
      const ok = await session.post(call(20, '"still here"'));
      const answer = session.answer ? (assert.equal(ok.status, 202), await session.answer(20)) : (assert.equal(ok.status, 200), JSON.parse(ok.text));
      assert.match(JSON.stringify(answer), /still here/);
      assert.equal(h.host.servers.get('fx')!.status().upstreams[0]?.pid, upstreamPid);
    });
  }

  test('a deep call sent while a serial server is busy is refused at once, the queued call still completes', async () => {
    const session = await openStreamable(h.url, 'fx', h.token);
    sessions.push(session);
    const slow = session.post('{"jsonrpc":"2.0","id":30,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":1500}}}');
    await waitFor(() => h.host.servers.get('fx')!.status().upstreams.some((u) => u.inFlight > 0), 10_000, 'the sleep call in flight');
    const deep = await session.post(call(31, deepArray(100_000)));
    assert.equal(deep.status, 400);
    const done = await slow;
    assert.equal(done.status, 200);
    assert.match(done.text, /slept 1500/);
  });

  test('wrong types in params are answered as JSON-RPC, never 5xx', async () => {
    const session = await openStreamable(h.url, 'fx', h.token);
    sessions.push(session);
    const bodies = [
      '{"jsonrpc":"2.0","id":40,"method":"resources/subscribe","params":{"uri":{"a":1}}}',
      '{"jsonrpc":"2.0","id":41,"method":"resources/read","params":{"uri":[1,2]}}',
      '{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":{"x":1},"arguments":"str"}}',
      '{"jsonrpc":"2.0","id":43,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":{"deep":[1]}}}}',
      '{"jsonrpc":"2.0","id":44,"method":"tools/call","params":[]}',
      '{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}',
      '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{"x":[]}}}',
    ];
    for (const body of bodies) {
      const res = await session.post(body);
      assert.ok(res.status < 500, `${body} → ${res.status} ${res.text.slice(0, 200)}`);
      if (res.status !== 202) assert.ok('error' in (JSON.parse(res.text) as object) || 'result' in (JSON.parse(res.text) as object), res.text);
    }
  });
});

test('a throw while forwarding a request answers that request with a JSON-RPC error, not the whole POST', () => {
  const delivered: JsonRpcMessage[] = [];
  const thrower = {
    name: 'broken',
    message: (_s: unknown, m: JsonRpcMessage) => {
      if ('method' in m && m.method === 'explode') throw new RangeError('Maximum call stack size exceeded');
    },
  } as unknown as HostedServer;
  const peer = { id: 's1', teammate: 'alice', capabilities: {}, deliver: (m: JsonRpcMessage) => delivered.push(m) };
  forwardMessages(thrower, peer, [
    { jsonrpc: '2.0', id: 1, method: 'explode' },
    { jsonrpc: '2.0', method: 'explode' },
    { jsonrpc: '2.0', id: 2, method: 'fine' },
  ], silentLogger);
  assert.equal(delivered.length, 1);
  const answer = delivered[0] as { id: number; error: { code: number; message: string } };
  assert.equal(answer.id, 1);
  assert.equal(answer.error.code, -32603);
  assert.doesNotMatch(answer.error.message, /stack size/, 'internals stay in the log');
});
