import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplayPolicy } from '../../server/gateway/replay-policy.ts';

const tools = (...list: Array<[string, Record<string, unknown>?]>) => ({ tools: list.map(([name, annotations]) => ({ name, inputSchema: {}, ...(annotations ? { annotations } : {}) })) });

test('tools declaring readOnlyHint or idempotentHint are retry-safe; the last tools/list decides', () => {
  const policy = new ReplayPolicy();
  policy.learn(tools(['read', { readOnlyHint: true }], ['put', { idempotentHint: true }], ['send'], ['odd', { readOnlyHint: 'yes' }]));
  assert.deepEqual(['read', 'put', 'send', 'odd', 'unknown'].map((t) => policy.retrySafeTool(t)), [true, true, false, false, false]);
  policy.learn(tools(['read', { readOnlyHint: false }]));
  assert.equal(policy.retrySafeTool('read'), false, 'a tool that stopped declaring it');
  assert.equal(policy.retrySafeTool('put'), true, 'a tool the new list leaves out keeps what it declared');
  for (const junk of [undefined, null, { tools: 'x' }, { tools: [null, 7, { name: 3 }] }]) policy.learn(junk);
  assert.equal(policy.retrySafeTool('put'), true);
});

test('only a planned restart replays, each call once, and only reads and retry-safe tools', () => {
  const policy = new ReplayPolicy();
  policy.learn(tools(['read', { readOnlyHint: true }], ['send']));
  const call = (method: string, tool?: string, replayed = false) => ({ method, tool, replayed });
  assert.equal(policy.replays(call('tools/call', 'read'), true), true);
  assert.equal(policy.replays(call('tools/call', 'read'), false), false, 'a crash: the call may be what crashed it');
  assert.equal(policy.replays(call('tools/call', 'read', true), true), false, 'a replay is not replayed again');
  assert.equal(policy.replays(call('tools/call', 'send'), true), false);
  assert.equal(policy.replays(call('tools/call'), true), false);
  for (const method of ['tools/list', 'resources/read', 'resources/list', 'resources/templates/list', 'prompts/list', 'prompts/get', 'completion/complete']) {
    assert.equal(policy.replays(call(method), true), true, method);
  }
  for (const method of ['resources/subscribe', 'logging/setLevel', 'something/new']) assert.equal(policy.replays(call(method), true), false, method);
});
