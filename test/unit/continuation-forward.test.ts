import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, test } from 'node:test';
import type { JsonRpcRequest } from '../../server/gateway/jsonrpc.ts';
import { createContinuationForwarder, FORWARDED_FROM_HEADER, ownerOf, type ForwardOutcome } from '../../server/modern/continuation-forward.ts';
import { requestDigest, RequestStateCodec } from '../../server/modern/request-state.ts';
import { waitFor } from '../helpers/harbor.ts';

// Two real HTTP servers on loopback: "front" runs the forwarder (the replica a continuation landed on),
// "owner" stands in for the replica holding the parked call. The directory is a map (its PostgreSQL
// implementation is tested in test/store/replica-directory.test.ts).
const codec = new RequestStateCodec({ secret: randomBytes(32) });
const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

function continuation(replica: string | undefined, teammate = 'alice', name = 'ask'): JsonRpcRequest {
  const params = { name, arguments: {} };
  const requestState = codec.mint({
    call: 'c1',
    round: 1,
    teammate,
    server: 'fx',
    request: requestDigest('tools/call', params),
    expiresAt: Date.now() + 60_000,
    ...(replica ? { replica } : {}),
  });
  return { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { ...params, requestState, inputResponses: { 'sampling-1': { role: 'assistant' } } } };
}

/** The replica the continuation landed on ("harbor-b"): forwards, or serves locally, or refuses. */
async function front(directory: Map<string, string> | null) {
  const outcomes: ForwardOutcome['kind'][] = [];
  const forward = createContinuationForwarder({
    replica: 'harbor-b',
    codec,
    directory: directory && { urlOf: async (name) => directory.get(name) ?? null },
    connectTimeoutMs: 2000,
  });
  const { url } = await listen(async (req, res) => {
    const message = JSON.parse(await readBody(req)) as JsonRpcRequest;
    const outcome = await forward(req, res, message, 'alice');
    outcomes.push(outcome.kind);
    if (outcome.kind === 'local') res.writeHead(200, { 'content-type': 'application/json' }).end('{"served":"here"}');
    if (outcome.kind === 'refused') res.writeHead(outcome.status, { 'content-type': 'application/json' }).end(JSON.stringify(outcome.response));
  });
  return { url, outcomes };
}

const post = (url: string, message: JsonRpcRequest, headers: Record<string, string> = {}) =>
  fetch(`${url}/fx/mcp`, {
    method: 'POST',
    headers: { authorization: 'Bearer alice-token', 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-method': 'tools/call', 'mcp-name': 'ask', ...headers },
    body: JSON.stringify(message),
  });

test('a continuation minted by another replica is relayed to it with the original headers, path and body, and its answer comes back', async () => {
  const seen: Array<{ url: string; headers: IncomingMessage['headers']; body: string }> = [];
  const owner = await listen(async (req, res) => {
    seen.push({ url: req.url!, headers: req.headers, body: await readBody(req) });
    res.writeHead(200, { 'content-type': 'application/json', 'x-from': 'owner' }).end('{"jsonrpc":"2.0","id":7,"result":{"done":true}}');
  });
  const b = await front(new Map([['harbor-a', owner.url]]));
  const message = continuation('harbor-a');
  const response = await post(b.url, message);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-from'), 'owner');
  assert.deepEqual(await response.json(), { jsonrpc: '2.0', id: 7, result: { done: true } });
  assert.deepEqual(b.outcomes, ['forwarded']);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.url, '/fx/mcp');
  assert.deepEqual(JSON.parse(seen[0]!.body), message, 'the same request, requestState byte for byte');
  assert.equal(seen[0]!.headers.authorization, 'Bearer alice-token', 'the owner checks the caller itself');
  assert.equal(seen[0]!.headers['mcp-name'], 'ask');
  assert.equal(seen[0]!.headers.host, new URL(b.url).host, 'the Host the client sent, for the owner\'s host check');
  assert.equal(seen[0]!.headers[FORWARDED_FROM_HEADER], 'harbor-b');
});

test('an SSE answer is relayed event by event, not buffered until the end', async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const owner = await listen(async (req, res) => {
    await readBody(req);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n');
    await released;
    res.end('data: {"jsonrpc":"2.0","id":7,"result":{}}\n\n');
  });
  const b = await front(new Map([['harbor-a', owner.url]]));
  const response = await post(b.url, continuation('harbor-a'));
  assert.equal(response.headers.get('content-type'), 'text/event-stream');
  const reader = response.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /notifications\/progress/, 'the first event arrived while the owner still held the answer');
  release();
  let rest = '';
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
  assert.match(rest, /"id":7,"result"/);
});

test('served here: no requestState, one this replica minted, one minted by a single host, or one that does not verify', async () => {
  const b = await front(new Map());
  const plain: JsonRpcRequest = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'ask', arguments: {} } };
  const forged = continuation('harbor-a');
  forged.params!.requestState = String(forged.params!.requestState).replace(/^./, (c) => (c === 'e' ? 'f' : 'e'));
  for (const message of [plain, continuation('harbor-b'), continuation(undefined), forged, continuation('harbor-a', 'mallory')]) {
    const response = await post(b.url, message);
    assert.deepEqual(await response.json(), { served: 'here' });
  }
  assert.deepEqual(b.outcomes, ['local', 'local', 'local', 'local', 'local']);
  assert.equal(ownerOf(codec, continuation('harbor-a'), 'alice'), 'harbor-a');
  assert.equal(ownerOf(codec, continuation('harbor-a'), 'bob'), null, 'bound to its teammate: the translator refuses it here');
});

test('the owner is gone from the directory: a clear error that the pending call died with it and the client must start over', async () => {
  const b = await front(new Map());
  const response = await post(b.url, continuation('harbor-a'));
  assert.equal(response.status, 200);
  const body = (await response.json()) as { error: { code: number; message: string; data: unknown } };
  assert.equal(body.error.code, -32602);
  assert.match(body.error.message, /"harbor-a"\) is not running any more; the pending call died with it\. Call again without requestState to start over/);
  assert.deepEqual(body.error.data, { reason: 'gone', replica: 'harbor-a' });
});

test('the owner is still listed but its process is dead (connection refused): the same error, without waiting', async () => {
  const dead = await listen(() => {});
  await new Promise((resolve) => dead.server.close(resolve));
  const b = await front(new Map([['harbor-a', dead.url]]));
  const body = (await (await post(b.url, continuation('harbor-a'))).json()) as { error: { message: string; data: unknown } };
  assert.match(body.error.message, /did not answer \(ECONNREFUSED\); the pending call died with it/);
  assert.deepEqual(body.error.data, { reason: 'gone', replica: 'harbor-a' });
});

test('no replica directory (a single host on SQLite): a state naming another replica is refused, saying why', async () => {
  const b = await front(null);
  const body = (await (await post(b.url, continuation('harbor-a'))).json()) as { error: { message: string } };
  assert.match(body.error.message, /no replica directory \(it needs the shared PostgreSQL store\)/);
});

test('loop guard: a request already forwarded once is never forwarded again', async () => {
  let reached = 0;
  const owner = await listen((_req, res) => {
    reached++;
    res.end('{}');
  });
  const b = await front(new Map([['harbor-a', owner.url]]));
  const response = await post(b.url, continuation('harbor-a'), { [FORWARDED_FROM_HEADER]: 'harbor-c' });
  assert.equal(response.status, 502);
  const body = (await response.json()) as { error: { message: string; data: unknown } };
  assert.match(body.error.message, /replica "harbor-c" forwarded this request to "harbor-b"/);
  assert.deepEqual(body.error.data, { reason: 'loop', replica: 'harbor-a' });
  assert.equal(reached, 0);
});

test('the client leaving closes the relayed request, so the owner cancels the call', async () => {
  let ownerSawClose = false;
  let ownerGotRequest = false;
  const owner = await listen(async (req, res) => {
    ownerGotRequest = true;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': started\n\n');
    res.once('close', () => (ownerSawClose = true));
  });
  const b = await front(new Map([['harbor-a', owner.url]]));
  const controller = new AbortController();
  const response = await fetch(`${b.url}/fx/mcp`, { method: 'POST', body: JSON.stringify(continuation('harbor-a')), headers: { 'content-type': 'application/json' }, signal: controller.signal });
  await response.body!.getReader().read();
  assert.ok(ownerGotRequest);
  controller.abort();
  await waitFor(() => ownerSawClose, 10_000, 'the owner to see the relayed request closed');
});

test('a path that reads as another host (`//elsewhere/…`) is still relayed to the owner, never elsewhere', async () => {
  const seen: string[] = [];
  const owner = await listen(async (req, res) => {
    seen.push(req.url!);
    await readBody(req);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":7,"result":{}}');
  });
  const b = await front(new Map([['harbor-a', owner.url]]));
  const response = await fetch(`${b.url}//127.0.0.2:9/fx/mcp`, {
    method: 'POST',
    headers: { authorization: 'Bearer alice-token', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify(continuation('harbor-a')),
  });
  assert.equal(response.status, 200);
  assert.deepEqual(b.outcomes, ['forwarded']);
  assert.deepEqual(seen, ['/127.0.0.2:9/fx/mcp'], 'the owner got it, under its own origin');
});
