import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startHost, type Host } from '../../server/host.ts';
import { silentLogger } from '../../server/logger.ts';
import { connectClient, GENEROUS_LIMITS, startTestHost, textOf, type TestHost } from '../helpers/harbor.ts';
import { hostStoreBackends, type HostStoreBackend } from '../helpers/host-store-backends.ts';
import { adminFetch, authorizeUrl, MemoryOAuthClient, openAuthorize, pkcePair, pollWait, submitSignIn, tokenRequest } from '../helpers/oauth-browser.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/client-document-server.ts';
import type { ClientMetadataOptions } from '../../server/oauth/client-metadata-documents.ts';

/**
 * Client ID Metadata Documents end to end: the MCP SDK client with a URL client_id (its
 * `clientMetadataUrl`) against a real host, which fetches the document from a real HTTPS server on
 * 127.0.0.1 (self-signed; the host trusts it and allows loopback through the test-only option). Then
 * the refusals, each an OAuth error with a description and nothing issued.
 */

const REDIRECT = 'http://127.0.0.1:53682/callback';

/** The SDK's client provider, identifying itself by the URL of its metadata document. */
class DocumentOAuthClient extends MemoryOAuthClient {
  readonly clientMetadataUrl: string;
  constructor(url: string, name: string) {
    super({ name });
    this.clientMetadataUrl = url;
  }
}

let docs: DocumentServer;

function documentHost(backend: Pick<HostStoreBackend, 'config'>, clientMetadata: ClientMetadataOptions = {}): Promise<TestHost> {
  return startTestHost(
    { docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both', ...backend.config() },
    { signIn: { clientMetadata: { allowLoopback: true, ca: docs.cert, ...clientMetadata } } },
  );
}

const document = (name: string, extra: object = {}) => (url: string) => ({
  client_id: url,
  client_name: name,
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  ...extra,
});

/** The browser's and the client's steps by hand for a URL client_id: sign in as `name`, the owner approves, the code is exchanged; the access token. */
async function signInByHand(h: TestHost, clientId: string, name: string): Promise<string> {
  const pkce = pkcePair();
  const page = await openAuthorize(authorizeUrl(h.url, { clientId, challenge: pkce.challenge, resource: `${h.url}/mcp/docs` }));
  assert.equal(page.status, 200);
  assert.equal((await submitSignIn(h.url, page, { name })).status, 303);
  assert.equal((await adminFetch(h.url, h.host.adminSecret, 'POST', `/admin/approvals/${page.requestId}/approve`)).status, 200);
  const code = new URL((await pollWait(h.url, page)).headers.get('location')!).searchParams.get('code')!;
  const exchanged = await tokenRequest(h.url, { grant_type: 'authorization_code', client_id: clientId, code, code_verifier: pkce.verifier, redirect_uri: REDIRECT });
  assert.equal(exchanged.status, 200);
  return ((await exchanged.json()) as { access_token: string }).access_token;
}

const flowCases = (backend: HostStoreBackend) => {
  before(() => backend.start());
  after(() => backend.stop());

  test('the SDK client signs in with a URL client_id: no registration, the owner sees name and host, tools work, refresh too', async () => {
    const h = await documentHost(backend);
    try {
      const metadata = (await (await fetch(`${h.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      assert.equal(metadata.client_id_metadata_document_supported, true);
      assert.ok(metadata.registration_endpoint, 'dynamic registration stays for clients without a document');

      const path = `/clients/${backend.name}.json`;
      const clientId = docs.serve(path, document('Doc Client'), { 'Cache-Control': 'max-age=600' });
      const provider = new DocumentOAuthClient(clientId, 'Doc Client');
      const url = new URL(`${h.url}/mcp/docs`);
      const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
      await assert.rejects(new Client({ name: 'cimd-test', version: '1' }).connect(transport), UnauthorizedError);
      assert.equal(provider.authorizationUrl!.searchParams.get('client_id'), clientId, 'the URL is the client_id');
      assert.equal(provider.client!.client_id, clientId, 'nothing was registered');
      const registered = (await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/invites')).json()) as { signIns: unknown[] };
      assert.deepEqual(registered.signIns, []);

      const host = `127.0.0.1:${docs.port}`;
      const page = await openAuthorize(provider.authorizationUrl!);
      assert.equal(page.status, 200);
      assert.ok(page.html.includes(`Doc Client (${host})`), 'the sign-in page names the client and where its document lives');
      assert.equal((await submitSignIn(h.url, page, { name: 'dora' })).status, 303);
      const approvals = (await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/approvals')).json()) as { approvals: Array<{ id: string; client: string; teammate: string }> };
      assert.deepEqual(approvals.approvals.map((a) => [a.teammate, a.client]), [['dora', `Doc Client (${host})`]]);
      assert.equal((await adminFetch(h.url, h.host.adminSecret, 'POST', `/admin/approvals/${page.requestId}/approve`)).status, 200);
      const back = await pollWait(h.url, page);
      assert.equal(back.status, 302);
      await transport.finishAuth(new URL(back.headers.get('location')!).searchParams.get('code')!);

      const client = new Client({ name: 'cimd-test', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
      assert.ok((await client.listTools()).tools.some((t) => t.name === 'list_docs'));
      assert.equal(typeof textOf(await client.callTool({ name: 'list_docs', arguments: {} })), 'string');
      await client.close();

      const refreshed = await tokenRequest(h.url, { grant_type: 'refresh_token', refresh_token: provider.saved!.refresh_token!, client_id: clientId });
      assert.equal(refreshed.status, 200);
      assert.equal(docs.hits(path), 1, 'authorize, token and refresh used one fetch of the document (max-age 600)');
      const grants = (await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/invites')).json()) as { signIns: Array<{ teammate: string; clientId: string; clientName: string }> };
      assert.deepEqual(grants.signIns.map((g) => [g.teammate, g.clientId, g.clientName]), [['dora', clientId, `Doc Client (${host})`]]);
    } finally {
      await h.close();
    }
  });
};

const restartCases = (backend: HostStoreBackend) => {
  test('after a restart the audit log and the grants list still name the client by its document (stored with the grant), with no fetch', async () => {
    const h = await documentHost(backend);
    let restarted: Host | null = null;
    try {
      const path = `/clients/restart-${backend.name}.json`;
      const clientId = docs.serve(path, document('Doc Client'), { 'Cache-Control': 'max-age=600' });
      const access_token = await signInByHand(h, clientId, 'dora');

      // The same home (and database) and port: the token's audience is this origin. The document cache starts empty.
      await h.host.close();
      restarted = await startHost({ home: h.home, port: Number(new URL(h.url).port), log: silentLogger, signIn: { clientMetadata: { allowLoopback: true, ca: docs.cert } } });
      const hits = docs.hits(path);
      const client = await connectClient(restarted.url, 'docs', access_token);
      await client.callTool({ name: 'list_docs', arguments: {} });
      await client.close();
      assert.equal(docs.hits(path), hits, 'nothing fetched: the name came from the store');

      const named = `Doc Client (127.0.0.1:${docs.port})`;
      const activity = (await (await adminFetch(restarted.url, restarted.adminSecret, 'GET', '/admin/activity?teammate=dora')).json()) as { entries: Array<{ method: string; via?: unknown }> };
      assert.deepEqual(activity.entries.filter((e) => e.method === 'tools/call').map((e) => e.via), [{ kind: 'sign-in', client: named }]);
      const grants = (await (await adminFetch(restarted.url, restarted.adminSecret, 'GET', '/admin/invites')).json()) as { signIns: Array<{ teammate: string; clientName: string }> };
      assert.deepEqual(grants.signIns.map((g) => [g.teammate, g.clientName]), [['dora', named]]);
    } finally {
      await restarted?.close();
      await h.close();
    }
  });
};

for (const backend of hostStoreBackends()) {
  describe(`Client ID Metadata Documents across a restart on ${backend.name}`, { skip: backend.skip }, () => {
    before(async () => {
      docs = await startDocumentServer();
      await backend.start();
    });
    after(() => {
      backend.stop();
      return docs.close();
    });
    restartCases(backend);
  });
}

for (const backend of hostStoreBackends()) {
  describe(`Client ID Metadata Documents: the SDK client flow on ${backend.name}`, { skip: backend.skip }, () => {
    before(async () => {
      docs = await startDocumentServer();
    });
    after(() => docs.close());
    flowCases(backend);
  });
}

describe('Client ID Metadata Documents: what is refused', () => {
  let h: TestHost;
  let hasty: TestHost;
  let strict: TestHost;
  before(async () => {
    docs = await startDocumentServer();
    h = await documentHost({ config: () => ({}) }, { maxBytes: 4096 });
    // Only for the server that never answers: the other cases keep the 5 s default, out of reach of a loaded machine.
    hasty = await documentHost({ config: () => ({}) }, { timeoutMs: 500 });
    // As shipped: no loopback, so the test's own server is out of reach.
    strict = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both' }, { signIn: { clientMetadata: { ca: docs.cert } } });
  });
  after(async () => {
    await h?.close();
    await hasty?.close();
    await strict?.close();
    await docs.close();
  });

  /** /authorize with a URL client_id: the OAuth error the SDK answers before any redirect. */
  async function authorizeError(host: TestHost, clientId: string, redirectUri = REDIRECT): Promise<{ status: number; error: string; description: string }> {
    const res = await fetch(authorizeUrl(host.url, { clientId, challenge: pkcePair().challenge, redirectUri }), { redirect: 'manual' });
    const body = (await res.json()) as { error: string; error_description: string };
    return { status: res.status, error: body.error, description: body.error_description };
  }

  async function nothingWaiting(host: TestHost): Promise<void> {
    const approvals = (await (await adminFetch(host.url, host.host.adminSecret, 'GET', '/admin/approvals')).json()) as { approvals: unknown[] };
    assert.deepEqual(approvals.approvals, [], 'no sign-in request was opened');
  }

  test('a document whose client_id is not its URL: invalid_client, and not cached (fixed, it works)', async () => {
    let fixed = false;
    const url = docs.serve('/mismatch.json', (u) => document('Mismatch', { client_id: fixed ? u : 'https://claude.ai/oauth/client.json' })(u));
    const refused = await authorizeError(h, url);
    assert.deepEqual([refused.status, refused.error], [400, 'invalid_client']);
    assert.match(refused.description, /client_id "https:\/\/claude\.ai\/oauth\/client\.json" is not the URL it was fetched from/);
    await nothingWaiting(h);
    fixed = true;
    const page = await openAuthorize(authorizeUrl(h.url, { clientId: url, challenge: pkcePair().challenge }));
    assert.equal(page.status, 200, 'the refusal was not cached');
  });

  test('a redirect_uri the document does not list: invalid_request, no redirect to it', async () => {
    const url = docs.serve('/listed.json', document('Listed'));
    const refused = await authorizeError(h, url, 'https://evil.example/callback');
    assert.deepEqual([refused.status, refused.error, refused.description], [400, 'invalid_request', 'Unregistered redirect_uri']);
    const loopbackOtherPort = await openAuthorize(authorizeUrl(h.url, { clientId: url, challenge: pkcePair().challenge, redirectUri: 'http://127.0.0.1:41999/callback' }));
    assert.equal(loopbackOtherPort.status, 200, 'a loopback redirect URI of any port (RFC 8252)');
  });

  test('too large, not JSON, a redirect, a server that never answers: invalid_client saying which', async () => {
    const big = docs.serve('/big.json', document('Big', { padding: 'x'.repeat(5000) }));
    const html = docs.route('/html.json', (_q, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<h1>hi</h1>'));
    const moved = docs.route('/moved.json', (_q, res) => res.writeHead(301, { Location: big }).end());
    const silent = docs.route('/silent.json', () => {});
    const secret = docs.serve('/secret.json', document('Secretive', { client_secret: 'hunter2' }));
    const confidential = docs.serve('/confidential.json', document('Confidential', { token_endpoint_auth_method: 'client_secret_basic' }));
    const noRedirects = docs.serve('/no-redirects.json', document('Bare', { redirect_uris: undefined }));
    const cases: Array<[string, RegExp]> = [
      [big, /is larger than 4096 bytes/],
      [html, /is not JSON \(Content-Type text\/html\)/],
      [moved, /HTTP 301: redirects are not followed/],
      [secret, /may not carry a client_secret/],
      [confidential, /token_endpoint_auth_method: must be "none"/],
      [noRedirects, /redirect_uris/],
    ];
    for (const [url, why] of cases) {
      const refused = await authorizeError(h, url);
      assert.deepEqual([refused.status, refused.error], [400, 'invalid_client'], url);
      assert.match(refused.description, why);
    }
    assert.equal(docs.hits('/big.json'), 1, 'the redirect was not followed');
    const timedOut = await authorizeError(hasty, silent);
    assert.deepEqual([timedOut.status, timedOut.error], [400, 'invalid_client']);
    assert.match(timedOut.description, /no answer within 500 ms/);
    await nothingWaiting(h);
    await nothingWaiting(hasty);
  });

  test('SSRF: without the dev option, loopback and private addresses are refused before connecting; plain http is invalid_request', async () => {
    const url = docs.serve('/private.json', document('Private'));
    const cases: Array<[string, RegExp]> = [
      [url, /127\.0\.0\.1 is a loopback address/],
      [`https://localhost:${docs.port}/private.json`, /localhost: .*loopback address/],
      ['https://169.254.169.254/latest/meta-data.json', /169\.254\.169\.254 is a private, link-local or reserved address/],
      ['https://[fd00::1]/c.json', /fd00::1 is a private/],
    ];
    for (const [clientId, why] of cases) {
      const refused = await authorizeError(strict, clientId);
      assert.deepEqual([refused.status, refused.error], [400, 'invalid_client'], clientId);
      assert.match(refused.description, why);
    }
    assert.equal(docs.hits('/private.json'), 0, 'nothing reached the loopback server');
    const http = await authorizeError(strict, `http://127.0.0.1:${docs.port}/private.json`);
    assert.deepEqual([http.status, http.error], [400, 'invalid_request']);
    assert.match(http.description, /scheme must be https/);
    await nothingWaiting(strict);
  });

  test('a signed-in client keeps working when its document has expired and its site is down (no fetch on the request path)', async () => {
    const clock = { now: 1_000_000 };
    const ticking = await documentHost({ config: () => ({}) }, { now: () => clock.now });
    try {
      let up = true;
      const path = '/goes-down.json';
      docs.route(path, (_q, res) => {
        const body = JSON.stringify(document('Flaky Site')(`${docs.origin}${path}`));
        if (up) res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
        else res.writeHead(503).end();
      });
      const clientId = `${docs.origin}${path}`;
      const access_token = await signInByHand(ticking, clientId, 'fay');

      up = false;
      clock.now += 25 * 60 * 60_000; // past the longest a document is kept
      const hits = docs.hits(path);
      const res = await fetch(`${ticking.url}/mcp/docs`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${access_token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
      });
      assert.equal(res.status, 200, 'the access token works');
      await res.arrayBuffer();
      assert.equal(docs.hits(path), hits, 'the request did not fetch the document');
      // A new sign-in needs the document again, and the site is down: refused, saying so.
      const again = await authorizeError(ticking, clientId);
      assert.deepEqual([again.status, again.error], [400, 'invalid_client']);
      assert.match(again.description, /answered HTTP 503/);
    } finally {
      await ticking.close();
    }
  });

  test('the token endpoint refuses a URL client_id whose document is bad, with nothing issued', async () => {
    const url = docs.serve('/token-mismatch.json', document('Token', { client_id: 'https://elsewhere.example/c.json' }));
    const res = await tokenRequest(h.url, { grant_type: 'authorization_code', client_id: url, code: 'hoc_nothing', code_verifier: pkcePair().verifier, redirect_uri: REDIRECT });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: string; error_description: string; access_token?: string };
    assert.equal(body.error, 'invalid_client');
    assert.match(body.error_description, /is not the URL it was fetched from/);
    assert.equal(body.access_token, undefined);
  });
});
