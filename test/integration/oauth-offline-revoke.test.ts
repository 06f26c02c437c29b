import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { writeHostRuntime } from '../../server/admin/runtime-file.ts';
import { authHeaders, GENEROUS_LIMITS, startTestHost, waitFor, type TestHost } from '../helpers/harbor.ts';
import { harborResult } from '../helpers/harbor-cli.ts';
import { hostStoreBackends, type HostStoreBackend } from '../helpers/host-store-backends.ts';
import { MemoryOAuthClient, signInAndApprove, tokenRequest } from '../helpers/oauth-browser.ts';
import { openStreamable } from '../helpers/raw-sessions.ts';

/**
 * Issue 18 follow-up: `harbor token revoke` run while the host does not answer writes the store
 * itself; the running host must still end every session of the teammate, sign-ins included. SQLite:
 * the host's look at the file (sqlite-grant-store's revocation log); PostgreSQL: the NOTIFY replicas
 * hear. carol only ever signed in (the real SDK OAuth flow): no static token to be noticed instead.
 */

async function signIn(h: TestHost, provider: MemoryOAuthClient, name: string): Promise<Client> {
  const url = new URL(`${h.url}/mcp/docs`);
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await assert.rejects(new Client({ name: 'oauth-test', version: '1.0.0' }).connect(transport), UnauthorizedError);
  const redirect = await signInAndApprove(h.url, h.host.adminSecret, provider.authorizationUrl!, name);
  await transport.finishAuth(redirect.searchParams.get('code')!);
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return client;
}

/** A GET stream on a fresh session of `token`; resolves when the host ends it. */
async function openGetStream(h: TestHost, token: string): Promise<Promise<void>> {
  const session = await openStreamable(h.url, 'docs', token);
  const get = await fetch(`${h.url}/mcp/docs`, {
    headers: { ...authHeaders(token), Accept: 'text/event-stream', 'mcp-session-id': session.sessionId, 'mcp-protocol-version': '2025-11-25' },
  });
  assert.equal(get.status, 200);
  const reader = get.body!.getReader();
  return (async () => {
    for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) return;
  })();
}

/** An address nothing listens on: the CLI finds the host's runtime file but no admin API answers. */
async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const cases = (backend: HostStoreBackend) => {
  before(() => backend.start());
  after(() => backend.stop());

  test('harbor token revoke with the host not answering ends a signed-in teammate\'s sessions and streams', async (t) => {
    const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both', ...backend.config() });
    t.after(() => h.close());
    const provider = new MemoryOAuthClient({ name: 'Claude Test' });
    const client = await signIn(h, provider, 'carol');
    t.after(() => client.close().catch(() => {}));
    await client.listTools();
    const access = provider.saved!.access_token;
    const streamEnded = openGetStream(h, access);
    const carolSessions = () => [...h.host.sessions.all()].filter((s) => s.teammate === 'carol').length;
    await waitFor(() => carolSessions() === 2, 5_000, 'both of carol\'s sessions registered');
    // Someone else's session stays: only the revoked teammate's end.
    const aliceClient = await openStreamable(h.url, 'docs', h.token);
    t.after(() => aliceClient.close());

    const dead = await deadAddress();
    writeHostRuntime(h.home, { url: dead, port: 0, pid: process.pid, startedAt: Date.now() });
    const cli = await harborResult({ ...process.env, HARBOR_HOME: h.home }, ['token', 'revoke', 'carol'], 60_000);
    assert.match(cli.stdout, /^Ended carol's sign-ins \(2 token\(s\) revoked\)\.\n/, cli.stdout + cli.stderr);
    if (backend.name === 'sqlite') {
      assert.equal(cli.code, 3, 'exit 3: revoked in the file, the host did not answer');
      assert.match(cli.stdout, new RegExp(`Revoked carol in the database; Harbor at ${dead} did not answer, its open streams close within \\d+ s\\.\\n$`));
    } else {
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /Revoked carol in the shared database/);
    }

    const started = Date.now();
    await Promise.race([streamEnded, new Promise((_, reject) => setTimeout(() => reject(new Error('carol\'s GET stream still open 15 s after the revocation')), 15_000).unref())]);
    await waitFor(() => carolSessions() === 0, 5_000, 'carol\'s sessions to end');
    t.diagnostic(`stream ended ${Date.now() - started} ms after the CLI exited`);
    assert.equal([...h.host.sessions.all()].filter((s) => s.teammate === 'alice').length, 1, 'alice\'s session stays');

    const next = await fetch(`${h.url}/mcp/docs`, { method: 'POST', headers: { ...authHeaders(access), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: '{}' });
    assert.equal(next.status, 401, 'the access token is refused');
    await next.text();
    const refresh = await tokenRequest(h.url, { grant_type: 'refresh_token', refresh_token: provider.saved!.refresh_token!, client_id: provider.client!.client_id });
    assert.equal(refresh.status, 400, 'the refresh token died with it');
    await refresh.text();
  });
};

for (const backend of hostStoreBackends()) {
  describe(`offline revocation of a sign-in on ${backend.name}`, { skip: backend.skip }, () => cases(backend));
}
