import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServerPath, serverPath, serverUrl } from '../../server/access/server-url.ts';

const hosted = (...names: string[]) => (name: string) => names.includes(name);

test('the handed-out form names the server first and ends in the endpoint', () => {
  assert.equal(serverUrl('http://127.0.0.1:7837', 'docs'), 'http://127.0.0.1:7837/docs/mcp');
  assert.equal(serverUrl('https://x.example/', 'docs', { endpoint: 'sse' }), 'https://x.example/docs/sse');
  assert.equal(serverUrl('https://x.example/harbor/', 'docs'), 'https://x.example/harbor/docs/mcp', 'a proxy prefix kept');
  assert.equal(serverUrl('https://x.example', 'docs', { token: 'a/b c' }), 'https://x.example/t/a%2Fb%20c/docs/mcp');
  assert.equal(serverPath('docs', { endpoint: 'messages', kindFirst: true }), '/messages/docs');
  for (const bad of ['nope', 'ftp://x', 'https://u:p@x', 'https://x/?q=1', 'https://x/#f']) assert.throws(() => serverUrl(bad, 'docs'), TypeError, bad);
});

test('both forms parse, with and without a token in the path', () => {
  const isHosted = hosted('docs');
  assert.deepEqual(parseServerPath('/docs/mcp', isHosted), { server: 'docs', endpoint: 'mcp', kindFirst: false });
  assert.deepEqual(parseServerPath('/docs/sse/', isHosted), { server: 'docs', endpoint: 'sse', kindFirst: false });
  assert.deepEqual(parseServerPath('/mcp/docs', isHosted), { server: 'docs', endpoint: 'mcp', kindFirst: true });
  assert.deepEqual(parseServerPath('/t/hbr_x/docs/messages', isHosted), { server: 'docs', endpoint: 'messages', kindFirst: false, pathToken: 'hbr_x' });
  assert.deepEqual(parseServerPath('/t/hbr_x/sse/docs', isHosted), { server: 'docs', endpoint: 'sse', kindFirst: true, pathToken: 'hbr_x' });
  for (const path of ['/docs', '/docs/mcp/x', '/docs/rest', '/t/x/docs', '/t//docs/mcp', '/.well-known/oauth-protected-resource/docs/mcp']) {
    assert.equal(parseServerPath(path, isHosted), null, path);
  }
});

test('what serverUrl builds, parseServerPath reads back', () => {
  for (const endpoint of ['mcp', 'sse', 'messages'] as const) {
    for (const token of [undefined, 'hbr_Zz-9_']) {
      const url = new URL(serverUrl('http://h:1', 'team.docs-2', { endpoint, ...(token ? { token } : {}) }));
      assert.deepEqual(parseServerPath(url.pathname, hosted('team.docs-2')), { server: 'team.docs-2', endpoint, kindFirst: false, ...(token ? { pathToken: token } : {}) });
    }
  }
});

test('a path both forms read goes to the hosted server, the handed-out form first', () => {
  // /mcp/sse: server "mcp" over SSE (handed-out form) or server "sse" over Streamable HTTP (first form).
  assert.equal(parseServerPath('/mcp/sse', hosted('mcp'))?.server, 'mcp');
  assert.equal(parseServerPath('/mcp/sse', hosted('sse'))?.server, 'sse');
  assert.deepEqual(parseServerPath('/mcp/sse', hosted('sse', 'mcp')), { server: 'mcp', endpoint: 'sse', kindFirst: false });
  assert.equal(parseServerPath('/mcp/mcp', hosted('mcp'))?.endpoint, 'mcp');
});
