import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ADMIN_SECRET_HEADER } from '../../server/admin/admin-api.ts';
import type { StdioUpstream } from '../../server/gateway/stdio-upstream.ts';
import { createLogger } from '../../server/logger.ts';
import { connectClient, everythingConfig, GENEROUS_LIMITS, startTestHost, textOf, waitFor } from '../helpers/harbor.ts';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

function admin(url: string, secret: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return fetch(url + path, {
    method,
    headers: { [ADMIN_SECRET_HEADER]: secret, 'Content-Type': 'application/json', ...headers },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

describe('team access', () => {
  test('revoking one teammate closes their sessions and stream at once; the other keeps working', async () => {
    const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS });
    try {
      const bob = h.host.tokens.issue('bob').token;
      const alice = await connectClient(h.url, 'docs', h.token);
      // Bob: a raw session (the SDK client would open its own GET stream) and his standalone stream.
      const init = await fetch(`${h.url}/mcp/docs`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${bob}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        body: JSON.stringify(INIT),
      });
      await init.arrayBuffer();
      const bobSession = init.headers.get('mcp-session-id')!;
      const stream = await fetch(`${h.url}/mcp/docs`, {
        headers: { Authorization: `Bearer ${bob}`, Accept: 'text/event-stream', 'mcp-session-id': bobSession },
      });
      assert.equal(stream.status, 200);
      const reader = stream.body!.getReader();
      await reader.read(); // the first byte

      const res = await admin(h.url, h.host.adminSecret, 'DELETE', '/admin/teammates/bob');
      assert.equal(res.status, 200);
      const answer = (await res.json()) as { sessionsClosed: number };
      assert.ok(answer.sessionsClosed >= 1);
      // The stream ends (bounded wait).
      const ended = await Promise.race([
        (async () => {
          for (let i = 0; i < 100; i++) if ((await reader.read()).done) return true;
          return false;
        })(),
        new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
      ]);
      assert.equal(ended, true, "bob's stream closed");
      const next = await fetch(`${h.url}/mcp/docs`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${bob}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'mcp-session-id': bobSession },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
      });
      assert.equal(next.status, 401);
      assert.match(textOf(await alice.callTool({ name: 'list_docs', arguments: {} })), /welcome/);
      await alice.close();
    } finally {
      await h.close();
    }
  });

  test("revoking a teammate ends their 2026-07-28 streams: a listen stream and a call streaming progress, which is cancelled upstream", async () => {
    const h = await startTestHost(everythingConfig());
    try {
      const bob = h.host.tokens.issue('bob').token;
      const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
      const open = async (method: string, params: Record<string, unknown>, name?: string) => {
        const response = await fetch(`${h.url}/everything/mcp`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${bob}`,
            'Content-Type': 'application/json',
            Accept: 'application/json, text/event-stream',
            'MCP-Protocol-Version': '2026-07-28',
            'Mcp-Method': method,
            ...(name ? { 'Mcp-Name': name } : {}),
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: method, method, params: { ...params, _meta: { ...meta, ...(params._meta as object) } } }),
        });
        assert.equal(response.status, 200, method);
        assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/, method);
        const reader = response.body!.getReader();
        await reader.read(); // the first event (or keep-alive): the stream is open
        return reader;
      };
      const listen = await open('subscriptions/listen', { notifications: { toolsListChanged: true } });
      // 60 steps of 1 s: still running when bob is revoked; its first progress event opens the stream.
      const call = await open('tools/call', { name: 'trigger-long-running-operation', arguments: { duration: 60, steps: 60 }, _meta: { progressToken: 'p1' } }, 'trigger-long-running-operation');

      const res = await admin(h.url, h.host.adminSecret, 'DELETE', '/admin/teammates/bob');
      assert.equal(res.status, 200);
      assert.ok(((await res.json()) as { sessionsClosed: number }).sessionsClosed >= 2);
      const drained = async (reader: ReadableStreamDefaultReader<Uint8Array>) => {
        const read = async () => {
          try {
            for (;;) if ((await reader.read()).done) return 'ended';
          } catch {
            return 'ended'; // a destroyed response can surface as a terminated body
          }
        };
        // Bounded: a stream revocation missed stays open (keep-alives every 15 s), and the test says so.
        const open = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 20_000).unref());
        return Promise.race([read(), open]);
      };
      assert.deepEqual(await Promise.all([drained(listen), drained(call)]), ['ended', 'ended']);
      // The call was cancelled upstream (notifications/cancelled): nothing is left in flight on the server,
      // 58 s before the operation would have ended.
      await waitFor(() => h.host.servers.get('everything')!.status().upstreams[0]!.inFlight === 0, 10_000, 'the call to leave the upstream');
    } finally {
      await h.close();
    }
  });

  test('revoking a teammate abandons their 2026-07-28 call parked for input: the upstream request gets an error at once, not after 5 min', async () => {
    const h = await startTestHost(everythingConfig());
    try {
      const bob = h.host.tokens.issue('bob').token;
      const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } };
      const sampling = await fetch(`${h.url}/everything/mcp`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${bob}`,
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'MCP-Protocol-Version': '2026-07-28',
          'Mcp-Method': 'tools/call',
          'Mcp-Name': 'trigger-sampling-request',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 }, _meta: meta } }),
      });
      assert.equal(((await sampling.json()) as { result?: { resultType?: string } }).result?.resultType, 'input_required');
      const upstream = () => h.host.servers.get('everything')!.status().upstreams[0]!;
      assert.equal(upstream().inFlight, 1, 'the call waits upstream for its sampling answer');

      const res = await admin(h.url, h.host.adminSecret, 'DELETE', '/admin/teammates/bob');
      assert.equal(res.status, 200);
      assert.ok(((await res.json()) as { sessionsClosed: number }).sessionsClosed >= 1);
      await waitFor(() => upstream().inFlight === 0, 10_000, 'the parked call to leave the upstream');
    } finally {
      await h.close();
    }
  });

  test('a scoped token reaches only its servers; an expired token is refused', async () => {
    const h = await startTestHost({ docs: { folder: 'docs' }, mcpServers: { everything: everythingConfig().mcpServers.everything } });
    try {
      const scoped = h.host.tokens.issue('scoped', { scope: ['docs'] }).token;
      const expired = h.host.tokens.issue('gone', { expiresAt: Date.now() - 1000 }).token;
      const post = (token: string, server: string) =>
        fetch(`${h.url}/mcp/${server}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
          body: JSON.stringify(INIT),
        });
      assert.equal((await post(scoped, 'docs')).status, 200);
      const refused = await post(scoped, 'everything');
      assert.equal(refused.status, 403);
      assert.match(((await refused.json()) as { error: { message: string } }).error.message, /not allowed to use "everything"/);
      assert.equal((await post(expired, 'docs')).status, 401);
    } finally {
      await h.close();
    }
  });

  test('the URL-token form works with the SDK client, and a wrong URL token is 401', async () => {
    const h = await startTestHost(null);
    try {
      const client = new Client({ name: 'connector', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${h.url}/t/${h.token}/mcp/docs`)));
      assert.match(textOf(await client.callTool({ name: 'list_docs', arguments: {} })), /welcome/);
      await client.close();
      const res = await fetch(`${h.url}/t/hbr_nope/mcp/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(INIT) });
      assert.equal(res.status, 401);
    } finally {
      await h.close();
    }
  });

  test("a burst beyond a teammate's bucket gets 429 with Retry-After; another teammate is unaffected", async () => {
    // One token per 1000 s: nothing refills while the test runs, however slowly the requests go (at
    // 1/s, eight requests spread over more than 3 s on a loaded machine would all pass).
    const h = await startTestHost({ docs: { folder: 'docs' }, limits: { requestsPerSecond: 0.001, burst: 5, sessionsPerTeammate: 3 } });
    try {
      const carol = h.host.tokens.issue('carol').token;
      const post = (token: string) =>
        fetch(`${h.url}/mcp/docs`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
          body: JSON.stringify(INIT),
        });
      const statuses: number[] = [];
      let limited: Response | null = null;
      for (let i = 0; i < 8; i++) {
        const res = await post(h.token);
        statuses.push(res.status);
        if (res.status === 429 && !limited) limited = res;
        else await res.arrayBuffer();
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429], 'the burst of 5, then refused');
      assert.ok(Number(limited!.headers.get('retry-after')) >= 1);
      const body = (await limited!.json()) as { error: { code: number; message: string } };
      assert.equal(body.error.code, -32002);
      assert.match(body.error.message, /rate limit|session limit|sessions/i);
      const other = await post(carol);
      assert.equal(other.status, 200);
    } finally {
      await h.close();
    }
  });

  test('the per-teammate session cap refuses the next session with 429 and says which limit, when every session is busy', async () => {
    const h = await startTestHost({ docs: { folder: 'docs' }, limits: { requestsPerSecond: 1000, burst: 1000, sessionsPerTeammate: 2 } });
    const streams = new AbortController();
    try {
      const open = () =>
        fetch(`${h.url}/mcp/docs`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
          body: JSON.stringify(INIT),
        });
      // Each session holds its GET stream open: busy, so none is closed to make room (an idle one
      // would be: session-cap-reconnects.test.ts).
      const hold = async (res: Response) => {
        const get = await fetch(`${h.url}/mcp/docs`, { headers: { Authorization: `Bearer ${h.token}`, Accept: 'text/event-stream', 'mcp-session-id': res.headers.get('mcp-session-id')! }, signal: streams.signal });
        assert.equal(get.status, 200);
        return res;
      };
      const first = await hold(await open());
      await hold(await open());
      const third = await open();
      assert.equal(third.status, 429);
      assert.match(((await third.json()) as { error: { message: string } }).error.message, /session limit/);
      // Ending a session frees a place.
      await fetch(`${h.url}/mcp/docs`, { method: 'DELETE', headers: { Authorization: `Bearer ${h.token}`, 'mcp-session-id': first.headers.get('mcp-session-id')! } });
      assert.equal((await open()).status, 200);
    } finally {
      streams.abort();
      await h.close();
    }
  });

  test('activity: the audit log records who called which tool, how long, and whether it failed', async () => {
    const h = await startTestHost(everythingConfig());
    try {
      const client = await connectClient(h.url, 'everything', h.token);
      await client.callTool({ name: 'echo', arguments: { message: 'x' } });
      await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } });
      await client.close();
      const res = await admin(h.url, h.host.adminSecret, 'GET', '/admin/activity?teammate=alice');
      const { entries } = (await res.json()) as { entries: Array<{ teammate: string; server: string; tool?: string; ok: boolean; durationMs: number }> };
      const tools = entries.filter((e) => e.tool).map((e) => e.tool);
      assert.deepEqual(tools.slice(0, 2), ['get-sum', 'echo']);
      assert.ok(entries.every((e) => e.teammate === 'alice' && e.server === 'everything' && e.ok));
    } finally {
      await h.close();
    }
  });

  test('the admin API: refused without the secret and through a tunnel; issues bundles', async () => {
    const h = await startTestHost(null);
    try {
      assert.equal((await fetch(`${h.url}/admin/status`)).status, 401);
      assert.equal((await admin(h.url, 'wrong', 'GET', '/admin/status')).status, 401);
      for (const header of ['Cf-Connecting-Ip', 'Cf-Ray', 'X-Forwarded-For']) {
        const res = await admin(h.url, h.host.adminSecret, 'GET', '/admin/status', undefined, { [header]: '203.0.113.7' });
        assert.equal(res.status, 403, header);
      }
      // A teammate token is not an admin secret.
      assert.equal((await admin(h.url, h.token, 'GET', '/admin/status')).status, 401);
      const created = await admin(h.url, h.host.adminSecret, 'POST', '/admin/teammates', { name: 'dana' });
      assert.equal(created.status, 201);
      const { token, bundles } = (await created.json()) as { token: string; bundles: Array<{ url: string; snippets: Array<{ client: string; text: string }> }> };
      assert.equal(bundles[0]!.url, `${h.url}/docs/mcp`);
      assert.ok(bundles[0]!.snippets.find((s) => s.client === 'claude-code')!.text.includes(token));
      assert.equal((await admin(h.url, h.host.adminSecret, 'POST', '/admin/teammates', { name: 'dana' })).status, 409);
      const status = (await (await admin(h.url, h.host.adminSecret, 'GET', '/admin/status')).json()) as { health: { state: string } };
      assert.equal(status.health.state, 'green');
    } finally {
      await h.close();
    }
  });

  test('no token ever reaches a log file or /metrics', async () => {
    const { tempHome } = await import('../helpers/harbor.ts');
    const { home, cleanup } = tempHome();
    const logFile = join(home, 'logs', 'host-test.log');
    const log = createLogger({ file: logFile, level: 'trace' });
    const h = await startTestHost(everythingConfig(), { log });
    try {
      const client = await connectClient(h.url, 'everything', h.token);
      await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
      await client.close();
      // Wrong tokens, URL tokens, admin calls: all the paths that touch a secret.
      await fetch(`${h.url}/mcp/everything`, { method: 'POST', headers: { Authorization: 'Bearer hbr_leakcheckAAAA', 'Content-Type': 'application/json' }, body: '{}' });
      await fetch(`${h.url}/t/${h.token}/mcp/nope`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      await fetch(`${h.url}/t/${h.token}/mcp/everything`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{bad json' });
      const issued = await admin(h.url, h.host.adminSecret, 'POST', '/admin/teammates', { name: 'eve' });
      const eveToken = ((await issued.json()) as { token: string }).token;
      await admin(h.url, h.host.adminSecret, 'DELETE', '/admin/teammates/eve');
      const metrics = await (await fetch(`${h.url}/metrics`)).text();
      await h.host.audit.flush();
      // Everything written so far is on disk before the files are read (a 200 ms sleep hoped so; under
      // load the check could pass on files not yet written).
      await new Promise<void>((resolve, reject) => log.flush((error) => (error ? reject(error) : resolve())));
      await (h.host.servers.get('everything') as unknown as { sharedUpstream(): StdioUpstream }).sharedUpstream().supervisor.log.flush();
      const secrets = [h.token, eveToken, h.host.adminSecret, 'hbr_leakcheckAAAA'].map((t) => t.replace(/^hbr_/, ''));
      const logDir = join(h.home, 'logs');
      const files = readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8'));
      const hostLog = readFileSync(logFile, 'utf8');
      files.push(hostLog);
      assert.ok(hostLog.length > 0, 'the host log was written');
      for (const secret of secrets) {
        assert.ok(!metrics.includes(secret), 'a secret in /metrics');
        for (const text of files) assert.ok(!text.includes(secret), 'a secret in a log file');
      }
      assert.match(metrics, /harbor_requests_total/);
    } finally {
      await h.close();
      cleanup();
    }
  });
});
