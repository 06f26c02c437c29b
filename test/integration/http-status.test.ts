import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startTestHost, waitFor, type TestHost } from '../helpers/harbor.ts';

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('HTTP status codes of the MCP endpoint', () => {
  let h: TestHost;
  let endpoint: string;
  const headers = (extra: Record<string, string> = {}) => ({
    Authorization: `Bearer ${h.token}`,
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    ...extra,
  });
  const post = (body: unknown, extra: Record<string, string> = {}) =>
    fetch(endpoint, { method: 'POST', headers: headers(extra), body: typeof body === 'string' ? body : JSON.stringify(body) });
  async function newSession(): Promise<string> {
    const res = await post(INIT);
    assert.equal(res.status, 200);
    await res.json();
    const id = res.headers.get('mcp-session-id');
    assert.ok(id);
    return id;
  }

  // The default idle TTL: a 400 ms one here reaped the sessions of the other tests whenever the
  // machine paused that long between two of their requests (404 instead of the status under test).
  before(async () => {
    h = await startTestHost(null);
    endpoint = `${h.url}/mcp/docs`;
  });
  after(() => h.close());

  test('initialize returns a session id and a JSON answer', async () => {
    const res = await post(INIT);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /application\/json/);
    const body = (await res.json()) as { result: { protocolVersion: string; serverInfo: { name: string } } };
    assert.equal(body.result.protocolVersion, '2025-11-25');
    assert.equal(body.result.serverInfo.name, 'harbor-docs');
  });

  test('older protocol versions are negotiated, unknown ones answered with the latest', async () => {
    for (const [asked, expected] of [['2025-06-18', '2025-06-18'], ['2025-03-26', '2025-03-26'], ['1999-01-01', '2025-11-25']]) {
      const res = await post({ ...INIT, params: { ...INIT.params, protocolVersion: asked } });
      const body = (await res.json()) as { result: { protocolVersion: string } };
      assert.equal(body.result.protocolVersion, expected);
    }
  });

  test('missing session id → 400; unknown session → 404', async () => {
    const call = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    assert.equal((await post(call)).status, 400);
    const res = await post(call, { 'mcp-session-id': 'no-such-session' });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, /initialize/);
  });

  test('unsupported MCP-Protocol-Version → 400', async () => {
    const id = await newSession();
    const res = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': id, 'mcp-protocol-version': '2099-01-01' });
    assert.equal(res.status, 400);
    const ok = await post({ jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' });
    assert.equal(ok.status, 200);
    const tools = (await ok.json()) as { result: { tools: Array<{ name: string }> } };
    assert.deepEqual(tools.result.tools.map((t) => t.name).sort(), ['list_docs', 'read_doc', 'search_docs']);
  });

  test('a bad Origin → 403, a foreign Host → 403', async () => {
    assert.equal((await post(INIT, { Origin: 'https://evil.example' })).status, 403);
    const port = new URL(h.url).port;
    assert.equal((await post(INIT, { Origin: `http://127.0.0.1:${port}` })).status, 200);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(endpoint, { method: 'POST', headers: { ...headers(), Host: `evil.example:${port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end(JSON.stringify(INIT));
    });
    assert.equal(status, 403);
  });

  test('a body over the limit → 413', async () => {
    const huge = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', params: { pad: 'x'.repeat(5 * 1024 * 1024) } });
    const res = await post(huge);
    assert.equal(res.status, 413);
  });

  test('malformed JSON → -32700; a bad envelope → -32600; never a crash', async () => {
    const res = await post('{"jsonrpc": "2.0", "id": 1, "method": ');
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32700);
    for (const bad of ['[]', '42', '{"jsonrpc":"1.0","id":1,"method":"x"}', '{"jsonrpc":"2.0","id":{},"method":"x"}', '[{"jsonrpc":"2.0"}]']) {
      const r = await post(bad);
      assert.equal(r.status, 400, bad);
      assert.equal(((await r.json()) as { error: { code: number } }).error.code, -32600, bad);
    }
    assert.equal((await fetch(`${h.url}/health`)).status, 200);
  });

  test('wrong content type → 415, unsupported method → 405', async () => {
    assert.equal((await post(INIT, { 'Content-Type': 'text/plain' })).status, 415);
    const res = await fetch(endpoint, { method: 'PUT', headers: headers() });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, POST, DELETE');
  });

  test('no token or a wrong token → 401 with WWW-Authenticate and nothing else', async () => {
    for (const auth of [undefined, 'Bearer hbr_wrong', 'Basic abc', `Bearer ${h.token}x`]) {
      const init: RequestInit = { method: 'POST', body: JSON.stringify(INIT), headers: { 'Content-Type': 'application/json' } };
      if (auth) (init.headers as Record<string, string>).Authorization = auth;
      const res = await fetch(endpoint, init);
      assert.equal(res.status, 401, String(auth));
      assert.match(res.headers.get('www-authenticate')!, /^Bearer/);
      assert.equal(res.headers.get('mcp-session-id'), null);
      const text = await res.text();
      assert.doesNotMatch(text, /docs|harbor-docs|serverInfo/);
    }
  });

  test('a session deleted with DELETE answers 404 afterwards', async () => {
    const id = await newSession();
    const del = await fetch(endpoint, { method: 'DELETE', headers: headers({ 'mcp-session-id': id }) });
    assert.equal(del.status, 200);
    const res = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': id });
    assert.equal(res.status, 404);
  });

  test('an idle session is reaped after the TTL and its share released', async () => {
    // A host of its own with a 400 ms idle TTL, so no other test's session can be reaped by it.
    const short = await startTestHost(null, { sessionTtlMs: 400 });
    try {
      const url = `${short.url}/mcp/docs`;
      const shortHeaders = (extra: Record<string, string> = {}) => ({ ...headers(extra), Authorization: `Bearer ${short.token}` });
      const init = await fetch(url, { method: 'POST', headers: shortHeaders(), body: JSON.stringify(INIT) });
      assert.equal(init.status, 200);
      await init.json();
      const id = init.headers.get('mcp-session-id');
      assert.ok(id, 'a session was created');
      await waitFor(() => !short.host.sessions.get(id), 5000, 'the idle session to be reaped');
      assert.equal(short.host.servers.get('docs')!.status().upstreams[0]!.sessions, 0);
      const res = await fetch(url, { method: 'POST', headers: shortHeaders({ 'mcp-session-id': id }), body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
      assert.equal(res.status, 404);
    } finally {
      await short.close();
    }
  });

  test("a session is bound to its teammate: another teammate's token gets 404 for it", async () => {
    const id = await newSession();
    const { token: bob } = h.host.tokens.issue('bob');
    const res = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': id, Authorization: `Bearer ${bob}` });
    assert.equal(res.status, 404);
  });

  test('GET opens a stream that sends its first byte at once, with proxy-safe headers', async () => {
    const id = await newSession();
    const controller = new AbortController();
    const res = await fetch(endpoint, { headers: { ...headers({ 'mcp-session-id': id }), Accept: 'text/event-stream' }, signal: controller.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value && first.value.length > 0);
    const second = await fetch(endpoint, { headers: { ...headers({ 'mcp-session-id': id }), Accept: 'text/event-stream' } });
    assert.equal(second.status, 409);
    controller.abort();
  });

  test('unknown paths and servers → 404', async () => {
    assert.equal((await fetch(`${h.url}/nope`)).status, 404);
    assert.equal((await post(INIT, {}).then(() => fetch(`${h.url}/mcp/nope`, { method: 'POST', headers: headers(), body: JSON.stringify(INIT) }))).status, 404);
  });
});

describe('keep-alive', () => {
  test('SSE streams carry a keep-alive comment at the heartbeat interval; server timeouts suit proxies', async () => {
    const h = await startTestHost(null, { heartbeatMs: 100 });
    try {
      const server = h.host.httpServer;
      assert.ok(server.keepAliveTimeout > 60_000);
      assert.ok(server.headersTimeout > server.keepAliveTimeout);
      assert.equal(server.requestTimeout, 0);
      const init = await fetch(`${h.url}/mcp/docs`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        body: JSON.stringify(INIT),
      });
      const id = init.headers.get('mcp-session-id')!;
      const controller = new AbortController();
      const res = await fetch(`${h.url}/mcp/docs`, {
        headers: { Authorization: `Bearer ${h.token}`, Accept: 'text/event-stream', 'mcp-session-id': id },
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const deadline = Date.now() + 5000;
      while (!text.includes(': keep-alive') && Date.now() < deadline) {
        const { value } = await reader.read();
        text += decoder.decode(value);
      }
      assert.match(text, /: keep-alive\n\n/);
      controller.abort();
    } finally {
      await h.close();
    }
  });
});
