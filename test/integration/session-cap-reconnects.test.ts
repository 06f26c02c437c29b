import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { authHeaders, connectClient, startTestHost, waitFor, type TestHost } from '../helpers/harbor.ts';

/**
 * Most clients never send DELETE: a client that restarts leaves its old session behind. At the
 * per-teammate session cap, the least recently used idle session makes room instead of the new one
 * being refused; a session with an open stream is never closed for it.
 */

/** A client that connects, calls, and goes away without DELETE (close() only aborts its streams). */
async function connectAndAbandon(h: TestHost): Promise<string> {
  const client = await connectClient(h.url, 'docs', h.token);
  await client.listTools();
  const id = (client.transport as { sessionId?: string }).sessionId!;
  await client.close();
  return id;
}

function sessionCount(h: TestHost): number {
  return h.host.sessions.size;
}

test('12 reconnects of one teammate without DELETE leave them connected, at the default limits', async () => {
  const h = await startTestHost(null);
  try {
    for (let i = 0; i < 12; i++) await connectAndAbandon(h);
    const client = await connectClient(h.url, 'docs', h.token);
    assert.ok((await client.listTools()).tools.length > 0);
    await client.close();
  } finally {
    await h.close();
  }
});

test('at the cap, the least recently used idle session makes room; busy ones are kept; all busy is a 429', async () => {
  const h = await startTestHost({ limits: { sessionsPerTeammate: 3 } });
  const open: Client[] = [];
  try {
    const abandoned: string[] = [];
    for (let i = 0; i < 12; i++) abandoned.push(await connectAndAbandon(h));
    assert.equal(sessionCount(h), 3);
    // The oldest abandoned sessions were closed for the newer ones: their ids answer 404 (the client
    // then starts a new session, as the spec says); the newest three still answer.
    const status = async (id: string) =>
      (
        await fetch(`${h.url}/mcp/docs`, {
          method: 'POST',
          headers: { ...authHeaders(h.token), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '2025-06-18' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        })
      ).status;
    assert.equal(await status(abandoned[0]!), 404);
    assert.equal(await status(abandoned[11]!), 200);

    // Three live clients, each holding its GET stream open: busy, never closed to make room.
    for (let i = 0; i < 3; i++) open.push(await connectClient(h.url, 'docs', h.token));
    for (const client of open) assert.ok((await client.listTools()).tools.length > 0);
    // The SDK opens its GET stream without waiting for it: wait until the host sees all three.
    await waitFor(() => [...h.host.sessions.all()].filter((s) => s.openStreams > 0).length === 3, 10_000, 'three open GET streams');
    const refused = await fetch(`${h.url}/mcp/docs`, {
      method: 'POST',
      headers: { ...authHeaders(h.token), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    assert.equal(refused.status, 429);
    assert.match(await refused.text(), /Too many sessions/);
    for (const client of open) assert.ok((await client.listTools()).tools.length > 0, 'a busy session survives');
  } finally {
    for (const client of open) await client.close();
    await h.close();
  }
});
