import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StreamableSession } from '../../server/http/streamable-session.ts';
import { connectClient, fixtureServer, GENEROUS_LIMITS, startTestHost } from '../helpers/harbor.ts';

// A long-lived session must not keep state per call it ever made: the soak found the host growing
// by an entry per streamed request. 600 calls answered over SSE, then the books are checked.
test('a session keeps bounded state however many calls it streams', async () => {
  const h = await startTestHost(
    { mcpServers: { fx: fixtureServer() }, limits: GENEROUS_LIMITS },
    { responseMode: 'sse', limits: { maxStoredEvents: 64, maxStoredBytes: 1024 * 1024 } },
  );
  const client = await connectClient(h.url, 'fx', h.token);
  try {
    for (let i = 0; i < 600; i++) await client.callTool({ name: 'echo', arguments: { message: `m${i}` } });
    const session = [...h.host.sessions.all()][0] as StreamableSession;
    // At most one resumable stream per stored event, plus the standalone GET stream.
    assert.ok(session.resumableStreams <= 64 + 1, `${session.resumableStreams} streams remembered`);
    assert.equal(h.host.servers.get('fx')!.status().upstreams[0]!.inFlight, 0);
  } finally {
    await client.close();
    await h.close();
  }
});
