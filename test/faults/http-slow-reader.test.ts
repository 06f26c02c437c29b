/**
 * Issue 12, defect 11: a client that stops reading its SSE stream must not make the host buffer every
 * event for it. A raw socket reads the start of its stream and then pauses while a hosted server
 * floods it with progress notifications (800 × 40 KiB ≈ 32 MB): the bytes the host holds unsent stay
 * under the per-stream bound, the stream is dropped, another client is served meanwhile, and the
 * dropped client resumes with Last-Event-ID and gets its answer.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StreamableSession } from '../../server/http/streamable-session.ts';
import { connectClient, GENEROUS_LIMITS, ROOT, startTestHost, textOf, waitFor, type TestHost } from '../helpers/harbor.ts';
import { openLegacy, openStreamable, PROTOCOL } from '../helpers/raw-sessions.ts';

const FLOOD = join(ROOT, 'test/fixtures/servers/flood-server.ts');
const STREAM_BOUND = 1024 * 1024;
const EVENT_BYTES = 40 * 1024;
const EVENTS = 800;

/** Writes a raw HTTP request and collects what comes back until `enough` says so; then stops reading. */
function rawRequestUntil(url: string, head: string, body: string, enough: (text: string) => boolean): Promise<{ socket: Socket; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!enough(text)) return;
      socket.off('data', onData);
      socket.pause(); // the client stops reading; the kernel's buffers fill, then the host's would
      resolve({ socket, text });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

/** Peak unsent bytes over every connection the host accepted, sampled until stopped. */
function watchBuffered(h: TestHost): { peak: () => number; sockets: Set<Socket>; stop: () => void } {
  const sockets = new Set<Socket>();
  h.host.httpServer.on('connection', (s: Socket) => sockets.add(s));
  let peak = 0;
  const timer = setInterval(() => {
    for (const s of sockets) peak = Math.max(peak, s.writableLength);
  }, 5);
  return { peak: () => peak, sockets, stop: () => clearInterval(timer) };
}

const floodCall = (id: number, token: string) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'flood', arguments: { count: EVENTS, bytes: EVENT_BYTES }, _meta: { progressToken: token } } });

describe('slow SSE readers', () => {
  let h: TestHost;
  before(async () => {
    h = await startTestHost(
      { mcpServers: { flood: { command: process.execPath, args: [FLOOD] } }, limits: GENEROUS_LIMITS },
      // The event store (256 KiB) must stay below the stream bound: a resumption replays all of it at once.
      { responseMode: 'sse', limits: { maxStreamBufferBytes: STREAM_BOUND, maxStoredBytes: 256 * 1024, maxStoredEvents: 256 } },
    );
  });
  after(() => h.close());

  test('Streamable HTTP: the stalled POST stream is dropped within the bound, others are served, Last-Event-ID resumes it', async (t) => {
    const session = await openStreamable(h.url, 'flood', h.token);
    const watch = watchBuffered(h);
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    try {
      const head = [
        'POST /mcp/flood HTTP/1.1',
        `Host: ${new URL(h.url).host}`,
        `Authorization: Bearer ${h.token}`,
        'Content-Type: application/json',
        'Accept: application/json, text/event-stream',
        `Mcp-Session-Id: ${session.sessionId}`,
        `MCP-Protocol-Version: ${PROTOCOL}`,
      ].join('\r\n');
      // Read the headers and the priming event (its id names the stream), then stop reading.
      const { socket, text } = await rawRequestUntil(h.url, head, floodCall(7, 'slow'), (seen) => /\nid: \d+_0\n/.test(seen));
      assert.match(text, /^HTTP\/1\.1 200/);
      const lastSeen = [...text.matchAll(/\nid: (\d+_\d+)\n/g)].at(-1)![1]!;

      // Meanwhile another teammate's session on the same upstream is served as usual.
      const other = await connectClient(h.url, 'flood', h.token);
      let progress = 0;
      const result = await other.callTool({ name: 'flood', arguments: { count: 5, bytes: 10 } }, undefined, { onprogress: () => progress++ });
      assert.equal(textOf(result), 'flooded 5');
      assert.equal(progress, 5);
      await other.close();

      const live = h.host.sessions.get(session.sessionId);
      assert.ok(live instanceof StreamableSession);
      await waitFor(() => live.openStreams === 0, 30_000, 'the stalled stream to be dropped');
      await waitFor(() => [...watch.sockets].some((s) => s.destroyed), 5000, 'the stalled socket destroyed');
      clearInterval(rssTimer); // up to the drop: after it, the resumed reader's own copy of the events would count
      socket.destroy();

      // Resume: the store still holds the latest events, the answer among them (or still to come).
      const resumed = await fetch(`${h.url}/mcp/flood`, {
        headers: {
          Authorization: `Bearer ${h.token}`,
          Accept: 'text/event-stream',
          'Mcp-Session-Id': session.sessionId,
          'MCP-Protocol-Version': PROTOCOL,
          'Last-Event-ID': lastSeen,
        },
      });
      assert.equal(resumed.status, 200);
      const replay = await resumed.text(); // ends once the call is answered
      const answers = [...replay.matchAll(/\ndata: (\{.*)\n/g)]
        .map((m) => JSON.parse(m[1]!) as { id?: number; result?: unknown })
        .filter((m) => m.id === 7);
      assert.equal(answers.length, 1, 'the resumed stream carries the answer');
      assert.equal(textOf(answers[0]!.result), `flooded ${EVENTS}`);
      const [streamId, after] = lastSeen.split('_');
      const seqs = [...replay.matchAll(/\nid: (\d+)_(\d+)\n/g)].map((m) => (assert.equal(m[1], streamId), Number(m[2])));
      assert.ok(seqs.length > 0 && seqs.every((s, i) => s > Number(after) && (i === 0 || s > seqs[i - 1]!)), 'replayed events follow the last one seen, in order');

      const peak = watch.peak();
      t.diagnostic(`peak unsent bytes on any host socket: ${peak} (bound ${STREAM_BOUND}); test-process RSS ${Math.round(rssBefore / 1048576)} → peak ${Math.round(rssPeak / 1048576)} MB up to the drop, while ${Math.round((EVENTS * EVENT_BYTES) / 1048576)} MB were emitted`);
      assert.ok(peak <= STREAM_BOUND + EVENT_BYTES + 1024, `peak ${peak}`);
    } finally {
      clearInterval(rssTimer);
      watch.stop();
      await session.close();
    }
  });

  test('legacy SSE: the stalled stream is dropped and its session ended; a new session works', async () => {
    const watch = watchBuffered(h);
    try {
      const head = ['GET /sse/flood HTTP/1.1', `Host: ${new URL(h.url).host}`, `Authorization: Bearer ${h.token}`, 'Accept: text/event-stream'].join('\r\n');
      const { socket, text } = await rawRequestUntil(h.url, head, '', (seen) => /event: endpoint\ndata: [^\n]+\n\n/.test(seen));
      const path = /event: endpoint\ndata: ([^\n]+)\n/.exec(text)![1]!;
      const sessionId = new URL(path, h.url).searchParams.get('sessionId')!;
      const post = (body: string) =>
        fetch(new URL(path, h.url), { method: 'POST', headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json' }, body }).then((r) => r.status);
      assert.equal(await post(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })), 202);
      await waitFor(() => h.host.servers.get('flood')!.status().sessions > 0, 10_000, 'the session initialised');
      assert.equal(await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })), 202);
      assert.equal(await post(floodCall(8, 'legacy-slow')), 202);
      await waitFor(() => h.host.sessions.get(sessionId) === undefined, 30_000, 'the stalled legacy session to end');
      socket.destroy();
      assert.equal(await post(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' })), 404);
      assert.ok(watch.peak() <= STREAM_BOUND + EVENT_BYTES + 1024, `peak ${watch.peak()}`);

      const again = await openLegacy(h.url, 'flood', h.token);
      assert.equal((await again.post(JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'ping' }))).status, 202);
      assert.deepEqual(await again.answer!(10), { jsonrpc: '2.0', id: 10, result: {} });
      await again.close();
    } finally {
      watch.stop();
    }
  });
});
