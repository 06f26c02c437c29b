import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { authHeaders, connectClient, GENEROUS_LIMITS, startTestHost, textOf, type TestHost } from '../helpers/harbor.ts';
import { hostStoreBackends, type HostStoreBackend } from '../helpers/host-store-backends.ts';
import { adminFetch, MemoryOAuthClient, openAuthorize, signInAndApprove, submitSignIn } from '../helpers/oauth-browser.ts';

/**
 * Sign in with Harbor end to end: the MCP SDK v1 client's own OAuth flow (discovery, dynamic
 * registration, PKCE, resource indicator) against a real host; the browser step driven here with fetch.
 * Once per store: the home's SQLite file, and a real PostgreSQL (what replicas share).
 */

async function signedInClient(h: TestHost, provider: MemoryOAuthClient, name = 'alice'): Promise<{ client: Client; redirect: URL }> {
  const url = new URL(`${h.url}/mcp/docs`);
  const first = new Client({ name: 'oauth-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await assert.rejects(first.connect(transport), UnauthorizedError, 'the first connect asks for sign-in');
  assert.ok(provider.authorizationUrl, 'the client was sent to the authorize URL');
  const redirect = await signInAndApprove(h.url, h.host.adminSecret, provider.authorizationUrl, name);
  await transport.finishAuth(redirect.searchParams.get('code')!);
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return { client, redirect };
}

const flowCases = (backend: HostStoreBackend) => {
  before(() => backend.start());
  after(() => backend.stop());

  test('sign in, approve, call tools as the teammate; refresh rotates; revocation ends it', async () => {
    const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both', ...backend.config() });
    try {
      const provider = new MemoryOAuthClient({ name: 'Claude Test' });
      const { client, redirect } = await signedInClient(h, provider, 'carol');
      // RFC 9207: the issuer rides along with the code; state came back as sent.
      assert.equal(redirect.searchParams.get('iss'), new URL(h.url).href);
      assert.ok(provider.authorizationUrl!.searchParams.get('state'));
      assert.equal(redirect.searchParams.get('state'), provider.authorizationUrl!.searchParams.get('state'));
      // RFC 8707: the client asked for the server's own URL as the resource.
      assert.equal(provider.authorizationUrl!.searchParams.get('resource'), `${h.url}/mcp/docs`);
      assert.match(provider.saved!.access_token, /^hoa_/);

      const tools = await client.listTools();
      assert.ok(tools.tools.some((t) => t.name === 'list_docs'));
      assert.ok(textOf(await client.callTool({ name: 'list_docs', arguments: {} })).length >= 0);
      // The audit log names the teammate the grant maps to.
      const activity = (await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/activity?teammate=carol')).json()) as { entries: unknown[] };
      assert.ok(activity.entries.length >= 1, 'calls audited under carol');
      await client.close();

      // Refresh with rotation: the new pair works, the spent refresh token does not.
      const before = provider.saved!;
      const metadata = (await (await fetch(`${h.url}/.well-known/oauth-authorization-server`)).json()) as { token_endpoint: string; revocation_endpoint: string };
      const refresh = (body: Record<string, string>) =>
        fetch(metadata.token_endpoint, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
      const rotated = await refresh({ grant_type: 'refresh_token', refresh_token: before.refresh_token!, client_id: provider.client!.client_id });
      assert.equal(rotated.status, 200);
      const next = (await rotated.json()) as { access_token: string; refresh_token: string };
      assert.notEqual(next.access_token, before.access_token);
      assert.notEqual(next.refresh_token, before.refresh_token);
      const oldAccess = await fetch(`${h.url}/mcp/docs`, { method: 'POST', headers: { ...authHeaders(before.access_token), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: '{}' });
      assert.equal(oldAccess.status, 401, 'the rotated-out access token is dead');
      const newClient = await connectClient(h.url, 'docs', next.access_token);
      await newClient.listTools();
      await newClient.close();
      // Replaying the spent refresh token: refused, and (leak detected) the family dies with it.
      const replay = await refresh({ grant_type: 'refresh_token', refresh_token: before.refresh_token!, client_id: provider.client!.client_id });
      assert.equal(replay.status, 400);
      assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');
      const afterReplay = await fetch(`${h.url}/mcp/docs`, { method: 'POST', headers: { ...authHeaders(next.access_token), 'Content-Type': 'application/json' }, body: '{}' });
      assert.equal(afterReplay.status, 401);

      // A fresh sign-in, then RFC 7009 revocation by the client: the next request gets 401.
      const second = new MemoryOAuthClient({ name: 'Cursor Test' });
      const { client: again } = await signedInClient(h, second, 'carol');
      await again.listTools();
      const revoked = await fetch(metadata.revocation_endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: second.saved!.access_token, client_id: second.client!.client_id }),
      });
      assert.equal(revoked.status, 200);
      await assert.rejects(again.listTools());
      await again.close().catch(() => {});
    } finally {
      await h.close();
    }
  });

  test('a sign-in waiting for the owner is announced on the admin event stream (for the app\'s notification)', async () => {
    const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both', ...backend.config() });
    const events = await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/events');
    try {
      const reader = events.body!.getReader();
      const provider = new MemoryOAuthClient({ name: 'VS Code Test' });
      const transport = new StreamableHTTPClientTransport(new URL(`${h.url}/mcp/docs`), { authProvider: provider });
      await assert.rejects(new Client({ name: 'x', version: '1' }).connect(transport), UnauthorizedError);
      const page = await openAuthorize(provider.authorizationUrl!);
      assert.equal((await submitSignIn(h.url, page, { name: 'gina' })).status, 303);
      let seen = '';
      const decoder = new TextDecoder();
      for (let i = 0; i < 50 && !seen.includes('wants-to-connect'); i++) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += decoder.decode(value);
      }
      const line = seen.split('\n').find((l) => l.includes('wants-to-connect'))!;
      const event = JSON.parse(line.replace(/^data: /, '')) as Record<string, unknown>;
      assert.deepEqual([event.type, event.teammate, event.client, event.invited, event.id], ['teammate', 'gina', 'VS Code Test', false, page.requestId]);
      await reader.cancel();
    } finally {
      await h.close();
    }
  });

  test('revoking a teammate ends their sign-ins and static token alike, and closes their sessions', async () => {
    const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both', ...backend.config() });
    try {
      // Static token (the helper issued one for alice) keeps working exactly as before in "both".
      const viaHeader = await connectClient(h.url, 'docs', h.token);
      await viaHeader.listTools();
      const provider = new MemoryOAuthClient();
      const { client } = await signedInClient(h, provider, 'alice');
      await client.listTools();
      const signIns = (await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/invites')).json()) as { signIns: Array<{ teammate: string; clientName: string }> };
      assert.deepEqual(signIns.signIns.map((s) => [s.teammate, s.clientName]), [['alice', 'Test Client']]);

      const res = await adminFetch(h.url, h.host.adminSecret, 'DELETE', '/admin/teammates/alice');
      assert.equal(res.status, 200);
      const answer = (await res.json()) as { sessionsClosed: number; signInTokensRevoked: number };
      assert.ok(answer.sessionsClosed >= 2, 'both sessions closed');
      assert.ok(answer.signInTokensRevoked >= 2, 'access and refresh token revoked');
      for (const token of [h.token, provider.saved!.access_token]) {
        const next = await fetch(`${h.url}/mcp/docs`, { method: 'POST', headers: { ...authHeaders(token), 'Content-Type': 'application/json' }, body: '{}' });
        assert.equal(next.status, 401);
      }
      const refresh = await fetch(`${h.url}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: provider.saved!.refresh_token!, client_id: provider.client!.client_id }),
      });
      assert.equal(refresh.status, 400, 'the refresh token died with the teammate');
    } finally {
      await h.close();
    }
  });
};

for (const backend of hostStoreBackends()) {
  describe(`Sign in with Harbor: the SDK client flow on ${backend.name}`, { skip: backend.skip }, () => flowCases(backend));
}
