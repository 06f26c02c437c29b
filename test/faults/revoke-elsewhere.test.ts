import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeHostRuntime } from '../../server/admin/runtime-file.ts';
import { ROOT, authHeaders, startTestHost, waitFor } from '../helpers/harbor.ts';

const CLI = join(ROOT, 'main/cli.ts');
const execFileP = promisify(execFile);

/** Reads a response body to its end; resolves when the host closes the stream. */
async function untilEnd(body: ReadableStream<Uint8Array>): Promise<string> {
  const reader = body.getReader();
  let text = '';
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
    if (done) return text;
    text += decoder.decode(value, { stream: true });
  }
}

/** An admin API that accepts connections and never answers: the host "did not answer in 5 s". */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

test('a revocation written to the file by the CLI (host not answering) ends the GET and /sse streams and refuses the token', async (t) => {
  const h = await startTestHost(null, { heartbeatMs: 1000 });
  t.after(() => h.close());
  const base = h.url;
  const headers = { ...authHeaders(h.token), Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json' };

  // A Streamable HTTP session with its standalone GET stream open.
  const init = await fetch(`${base}/mcp/docs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  assert.equal(init.status, 200);
  await init.text();
  const sessionId = init.headers.get('mcp-session-id')!;
  const sessionHeaders = { ...headers, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' };
  await fetch(`${base}/mcp/docs`, { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) }).then((r) => r.text());
  const get = await fetch(`${base}/mcp/docs`, { headers: { ...sessionHeaders, Accept: 'text/event-stream' } });
  assert.equal(get.status, 200);
  const getEnded = untilEnd(get.body!);

  // A legacy HTTP+SSE stream.
  const sse = await fetch(`${base}/sse/docs`, { headers: { ...authHeaders(h.token), Accept: 'text/event-stream' } });
  assert.equal(sse.status, 200);
  const sseEnded = untilEnd(sse.body!);
  await waitFor(() => h.host.sessions.size === 2, 5_000, 'both sessions registered');

  // The host's admin API, as the CLI finds it, now never answers: the CLI falls back to the file.
  const silent = await silentServer();
  t.after(() => silent.close());
  writeHostRuntime(h.home, { url: silent.url, port: 0, pid: process.pid, startedAt: Date.now() });
  const cli = await execFileP(process.execPath, [CLI, 'token', 'revoke', 'alice'], { env: { ...process.env, HARBOR_HOME: h.home }, timeout: 30_000 })
    .then(() => assert.fail('exit 0 although the host did not answer'))
    .catch((error: { code?: number; stdout?: string }) => error);
  assert.equal(cli.code, 3, 'exit 3: revoked in the file, the host did not answer');
  assert.match(cli.stdout ?? '', new RegExp(`^Revoked alice in the database; Harbor at ${silent.url} did not answer, its open streams close within \\d+ s\\.\\n$`));

  // Both streams end (bounded wait), the sessions are gone, and the next request is refused.
  const started = Date.now();
  await Promise.race([
    Promise.all([getEnded, sseEnded]),
    new Promise((_, reject) => setTimeout(() => reject(new Error('streams still open 10 s after the revocation')), 10_000).unref()),
  ]);
  t.diagnostic(`streams ended ${Date.now() - started} ms after the CLI exited`);
  assert.equal(h.host.sessions.size, 0);
  const after = await fetch(`${base}/mcp/docs`, { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
  assert.equal(after.status, 401);
  await after.text();
});
