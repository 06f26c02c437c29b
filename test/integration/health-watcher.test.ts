/**
 * The health watcher (main/core/health-watcher.ts) that the tray app and `harbor serve` share, against a
 * real host: the first poll reports health without old news, a teammate's first call is announced once,
 * a host that stops answering turns red with a notification, and overlapping polls share one request.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdminClient } from '../../main/core/admin-client.ts';
import { HealthWatcher, type StatusUpdate } from '../../main/core/health-watcher.ts';
import type { NotificationSpec } from '../../main/core/notification-rules.ts';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { HttpHostApi } from '../../renderer/host-api.ts';
import { authHeaders, startTestHost, waitFor } from '../helpers/harbor.ts';
import { MemoryOAuthClient, openAuthorize, submitSignIn } from '../helpers/oauth-browser.ts';

const SECRET = 'watcher-secret-0123456789';

function record(watcher: HealthWatcher): { updates: StatusUpdate[]; notes: NotificationSpec[] } {
  const seen = { updates: [] as StatusUpdate[], notes: [] as NotificationSpec[] };
  watcher.on('status', (update) => seen.updates.push(update));
  watcher.on('notification', (spec) => seen.notes.push(spec));
  return seen;
}

test('health, first connections and a host that stops answering', async (t) => {
  const harbor = await startTestHost(null, { adminSecret: SECRET });
  t.after(() => harbor.close());
  let client: AdminClient | null = AdminClient.forHost(harbor.url, SECRET);
  const errors: Error[] = [];
  const watcher = new HealthWatcher({ api: () => client, teammatesEvery: 1, onError: (error) => errors.push(error) });
  const seen = record(watcher);

  await watcher.poll();
  assert.equal(seen.updates.length, 1);
  const first = seen.updates[0]!;
  assert.equal(first.previous, null);
  assert.equal(first.status?.host.url, harbor.url);
  assert.notEqual(first.health.state, 'red', first.health.reasons.join('; '));
  assert.equal(seen.notes.length, 0, 'the first observation announces nothing that is not red');

  // bob is issued a token and calls once: announced on a later poll, once.
  const { token } = harbor.host.tokens.issue('bob');
  const call = await fetch(`${harbor.url}/mcp/docs`, {
    method: 'POST',
    headers: { ...authHeaders(token), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  assert.equal(call.status, 200);
  await call.body?.cancel();
  await waitFor(async () => {
    await watcher.poll();
    return seen.notes.some((n) => n.kind === 'teammate-first-connection');
  }, 10_000, 'bob announced');
  assert.deepEqual(seen.notes.map((n) => n.title), ['bob connected']);
  await watcher.poll();
  assert.equal(seen.notes.length, 1, 'announced once');

  // The host goes away: red, with the reason and a notification.
  const healthy = seen.updates.at(-1)!.health;
  await harbor.close();
  await watcher.poll();
  const down = seen.updates.at(-1)!;
  assert.equal(down.status, null);
  assert.deepEqual(down.health, { state: 'red', reasons: ['Harbor host is not answering'] });
  assert.deepEqual(down.previous, healthy);
  assert.ok(errors.length >= 1, 'the failed request is reported');
  assert.deepEqual(seen.notes.at(-1), { kind: 'health-red', title: 'Harbor is down', body: 'Harbor host is not answering' });

  // No host at all (not started yet): red as well, and no request is tried.
  client = null;
  const before = errors.length;
  await watcher.poll();
  assert.equal(seen.updates.at(-1)!.health.state, 'red');
  assert.equal(errors.length, before);
});

test('overlapping polls share one request; the teammate list is read every n-th poll', async () => {
  let statusCalls = 0;
  let teammateCalls = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const api = {
    status: async () => {
      statusCalls++;
      await gate;
      throw new Error('no host');
    },
    teammates: async () => {
      teammateCalls++;
      return [];
    },
  };
  const watcher = new HealthWatcher({ api: () => api, teammatesEvery: 3 });
  const both = Promise.all([watcher.poll(), watcher.poll()]);
  release();
  await both;
  assert.equal(statusCalls, 1);
  for (let i = 0; i < 5; i++) await watcher.poll();
  assert.equal(statusCalls, 6);
  assert.equal(teammateCalls, 2, 'polls 1 and 4 of 6');
});

test('a sign-in waiting for the owner becomes one "wants to connect" notification (issue 18.2)', async (t) => {
  const harbor = await startTestHost({ docs: { folder: 'docs' }, auth: 'both' }, { adminSecret: SECRET });
  t.after(() => harbor.close());
  const watcher = new HealthWatcher({ api: () => new HttpHostApi({ baseUrl: harbor.url, secret: SECRET }) });
  const seen = record(watcher);
  await watcher.poll();
  assert.equal(seen.notes.length, 0, 'nobody waiting yet');

  const provider = new MemoryOAuthClient({ name: 'Zed Test' });
  const transport = new StreamableHTTPClientTransport(new URL(`${harbor.url}/mcp/docs`), { authProvider: provider });
  await assert.rejects(new Client({ name: 'x', version: '1' }).connect(transport), UnauthorizedError);
  const page = await openAuthorize(provider.authorizationUrl!);
  assert.equal((await submitSignIn(harbor.url, page, { name: 'dana' })).status, 303);

  await watcher.poll();
  await watcher.poll();
  assert.deepEqual(seen.notes.map((n) => [n.kind, n.title, n.approvalId]), [['wants-to-connect', 'dana wants to connect', page.requestId]]);
  assert.match(seen.notes[0]!.body, /^dana wants to connect from Zed Test \(not invited\)\./);
});
