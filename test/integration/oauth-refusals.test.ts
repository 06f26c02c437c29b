import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ADMIN_SECRET_HEADER } from '../../server/admin/admin-api.ts';
import { authHeaders, connectClient, fixtureServer, GENEROUS_LIMITS, startTestHost, type TestHost } from '../helpers/harbor.ts';
import {
  adminFetch,
  authorizeUrl,
  openAuthorize,
  pkcePair,
  pollWait,
  registerClient,
  submitSignIn,
  tokenRequest,
} from '../helpers/oauth-browser.ts';
import { hostStoreBackends, type HostStoreBackend } from '../helpers/host-store-backends.ts';

/**
 * What Sign in with Harbor refuses, each with its status, and that nothing is issued: the negatives
 * of issue 18 on a real host (HTTP on 127.0.0.1), the protocol driven by hand. The cases that keep
 * grants run once per store: the home's SQLite file, and a real PostgreSQL (what replicas share).
 */

const REDIRECT = 'http://127.0.0.1:53682/callback';
const GENEROUS = { authorize: 10_000, token: 10_000, register: 10_000, revoke: 10_000, signInBurst: 10_000, signInPerMinute: 10_000 };

interface Clock {
  now: number;
}

/** The store of the suite running now (suites of one file run one after the other). */
let backend: Pick<HostStoreBackend, 'config'> = { config: () => ({}) };

async function oauthHost(clock: Clock, extra: object = {}, rateLimits: object = GENEROUS): Promise<TestHost> {
  return startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both', ...backend.config(), ...extra }, { signIn: { now: () => clock.now, rateLimits } });
}

/** Register, authorize, sign in, approve: returns the code and what produced it. */
async function approvedCode(h: TestHost, resource = `${h.url}/mcp/docs`) {
  const client = await registerClient(h.url);
  const pkce = pkcePair();
  const page = await openAuthorize(authorizeUrl(h.url, { clientId: client.client_id, challenge: pkce.challenge, resource }));
  assert.equal(page.status, 200);
  assert.equal((await submitSignIn(h.url, page, { name: 'erin' })).status, 303);
  assert.equal((await adminFetch(h.url, h.host.adminSecret, 'POST', `/admin/approvals/${page.requestId}/approve`)).status, 200);
  const back = await pollWait(h.url, page);
  assert.equal(back.status, 302);
  const location = new URL(back.headers.get('location')!);
  return { client, pkce, code: location.searchParams.get('code')!, location };
}

function exchange(h: TestHost, clientId: string, code: string, verifier: string, extra: Record<string, string> = {}) {
  return tokenRequest(h.url, { grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT, ...extra });
}

async function signIns(h: TestHost): Promise<unknown[]> {
  return ((await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/invites')).json()) as { signIns: unknown[] }).signIns;
}

function mcpPost(h: TestHost, server: string, token: string): Promise<Response> {
  return fetch(`${h.url}/mcp/${server}`, {
    method: 'POST',
    headers: { ...authHeaders(token), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
  });
}

/** A request with headers fetch will not send (Host), as the tunnel's connector would make it. */
function rawRequest(url: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const refusalCases = () => {
  test('a wrong PKCE verifier (400 invalid_grant, nothing issued); the code then works once, and a reuse kills what it issued', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock);
    try {
      const { client, pkce, code } = await approvedCode(h);
      const wrong = await exchange(h, client.client_id, code, pkcePair().verifier);
      assert.equal(wrong.status, 400);
      assert.equal(((await wrong.json()) as { error: string }).error, 'invalid_grant');
      assert.deepEqual(await signIns(h), [], 'nothing issued');

      const good = await exchange(h, client.client_id, code, pkce.verifier);
      assert.equal(good.status, 200);
      const tokens = (await good.json()) as { access_token: string; token_type: string; scope: string };
      assert.equal(tokens.token_type, 'Bearer');
      assert.equal((await mcpPost(h, 'docs', tokens.access_token)).status, 200);

      const reused = await exchange(h, client.client_id, code, pkce.verifier);
      assert.equal(reused.status, 400);
      assert.equal(((await reused.json()) as { error: string }).error, 'invalid_grant');
      assert.equal((await mcpPost(h, 'docs', tokens.access_token)).status, 401, 'a replayed code revokes the tokens it issued');
      assert.deepEqual(await signIns(h), []);
    } finally {
      await h.close();
    }
  });

  test('a foreign redirect URI at authorize (400, no redirect) and at the token step; loopback redirects of any port are accepted', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock);
    try {
      const client = await registerClient(h.url);
      const { challenge } = pkcePair();
      for (const redirectUri of ['https://evil.example/callback', 'http://127.0.0.1:53682/other', 'http://localhost:53682/callback']) {
        const res = await fetch(authorizeUrl(h.url, { clientId: client.client_id, challenge, redirectUri }), { redirect: 'manual' });
        assert.equal(res.status, 400, redirectUri);
        assert.equal(res.headers.get('location'), null, 'no redirect to an unregistered URI');
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
      }
      // RFC 8252 7.3: the same loopback URI on another port.
      const otherPort = await openAuthorize(authorizeUrl(h.url, { clientId: client.client_id, challenge, redirectUri: 'http://127.0.0.1:40001/callback' }));
      assert.equal(otherPort.status, 200);
      // Registration refuses what cannot be a safe redirect.
      for (const uri of ['http://evil.example/cb', 'javascript:alert(1)']) {
        const res = await fetch(`${h.url}/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ client_name: 'x', redirect_uris: [uri] }) });
        assert.equal(res.status, 400, uri);
      }
      // The code is bound to its redirect URI: a different one at the token step gets nothing, and the code is spent.
      const { client: c2, pkce, code } = await approvedCode(h);
      const swapped = await exchange(h, c2.client_id, code, pkce.verifier, { redirect_uri: 'http://127.0.0.1:53682/elsewhere' });
      assert.equal(swapped.status, 400);
      assert.equal((await exchange(h, c2.client_id, code, pkce.verifier)).status, 400);
      assert.deepEqual(await signIns(h), []);
    } finally {
      await h.close();
    }
  });

  test('a token for another resource (audience): 401 at the other server, with the metadata of that server', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock, { mcpServers: { fixture: fixtureServer() } });
    try {
      const { client, pkce, code } = await approvedCode(h, `${h.url}/mcp/docs`);
      const { access_token } = (await (await exchange(h, client.client_id, code, pkce.verifier)).json()) as { access_token: string };
      assert.equal((await mcpPost(h, 'docs', access_token)).status, 200);
      const other = await mcpPost(h, 'fixture', access_token);
      assert.equal(other.status, 401);
      const challenge = other.headers.get('www-authenticate')!;
      assert.match(challenge, /error="invalid_token"/);
      assert.match(challenge, new RegExp(`resource_metadata="${h.url}/.well-known/oauth-protected-resource/mcp/fixture"`));
      // A resource this Harbor does not serve is refused at authorize (RFC 8707 invalid_target, to the client's redirect).
      const c2 = await registerClient(h.url);
      const res = await fetch(authorizeUrl(h.url, { clientId: c2.client_id, challenge: pkcePair().challenge, resource: 'https://elsewhere.example/mcp' }), { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.equal(new URL(res.headers.get('location')!).searchParams.get('error'), 'invalid_target');
      // Asking the token endpoint for another resource than the code's: refused.
      const third = await approvedCode(h, `${h.url}/mcp/docs`);
      const mismatch = await exchange(h, third.client.client_id, third.code, third.pkce.verifier, { resource: `${h.url}/mcp/fixture` });
      assert.equal(mismatch.status, 400);
      assert.equal(((await mismatch.json()) as { error: string }).error, 'invalid_target');
    } finally {
      await h.close();
    }
  });

  test('expired codes, expired access tokens, and a sign-in request past its ten minutes', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock);
    try {
      const first = await approvedCode(h);
      clock.now += 61_000; // codes live 60 s
      assert.equal((await exchange(h, first.client.client_id, first.code, first.pkce.verifier)).status, 400);

      const second = await approvedCode(h);
      const tokens = (await (await exchange(h, second.client.client_id, second.code, second.pkce.verifier)).json()) as { access_token: string; refresh_token: string };
      assert.equal((await mcpPost(h, 'docs', tokens.access_token)).status, 200);
      clock.now += 60 * 60_000 + 1000; // access tokens live an hour
      assert.equal((await mcpPost(h, 'docs', tokens.access_token)).status, 401);
      // The refresh token outlives it and brings a new access token.
      const refreshed = await tokenRequest(h.url, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: second.client.client_id });
      assert.equal(refreshed.status, 200);

      // A request waiting for the owner expires ten minutes after it was sent: approval and pickup both fail.
      const client = await registerClient(h.url);
      const page = await openAuthorize(authorizeUrl(h.url, { clientId: client.client_id, challenge: pkcePair().challenge }));
      assert.equal((await submitSignIn(h.url, page, { name: 'late' })).status, 303);
      clock.now += 10 * 60_000 + 1000;
      assert.equal((await adminFetch(h.url, h.host.adminSecret, 'POST', `/admin/approvals/${page.requestId}/approve`)).status, 404);
      assert.equal((await pollWait(h.url, page)).status, 404);
    } finally {
      await h.close();
    }
  });

  test('approval without the owner: no secret, a wrong one, through the tunnel, from a foreign page; nothing issued', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock);
    try {
      h.host.applyShareState({ state: 'online', mode: 'quick', publicUrl: 'https://harbor-test.trycloudflare.com', lastError: null });
      const client = await registerClient(h.url);
      const page = await openAuthorize(authorizeUrl(h.url, { clientId: client.client_id, challenge: pkcePair().challenge }));
      assert.equal((await submitSignIn(h.url, page, { name: 'mallory' })).status, 303);
      const path = `/admin/approvals/${page.requestId}/approve`;
      assert.equal((await adminFetch(h.url, null, 'POST', path)).status, 401);
      assert.equal((await adminFetch(h.url, 'not-the-secret', 'POST', path)).status, 401);
      const viaTunnel = await rawRequest(h.url + path, 'POST', { Host: 'harbor-test.trycloudflare.com', 'cf-connecting-ip': '203.0.113.9', [ADMIN_SECRET_HEADER]: h.host.adminSecret });
      assert.equal(viaTunnel.status, 403);
      // A page elsewhere posting a form to the admin API (the "CSRF on approve" case): no secret, foreign Origin.
      const forged = await fetch(h.url + path, { method: 'POST', headers: { Origin: 'https://evil.example', 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'approve=1' });
      assert.equal(forged.status, 403);
      // Still waiting: the unknown person is listed, not invited, and gets no code.
      const approvals = ((await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/approvals')).json()) as { approvals: Array<{ id: string; teammate: string; invited: boolean; client: string }> }).approvals;
      assert.deepEqual(approvals.map((a) => [a.id, a.teammate, a.invited, a.client]), [[page.requestId, 'mallory', false, 'Raw Client']]);
      const wait = await pollWait(h.url, page);
      assert.equal(wait.status, 200);
      assert.equal(wait.headers.get('location'), null);
      // The owner denies: the browser goes back to the client with access_denied, no code.
      assert.equal((await adminFetch(h.url, h.host.adminSecret, 'POST', `/admin/approvals/${page.requestId}/deny`)).status, 200);
      const denied = await pollWait(h.url, page);
      assert.equal(denied.status, 302);
      const location = new URL(denied.headers.get('location')!);
      assert.equal(location.searchParams.get('error'), 'access_denied');
      assert.equal(location.searchParams.get('code'), null);
      assert.deepEqual(await signIns(h), []);
    } finally {
      await h.close();
    }
  });

  test('the sign-in form without its CSRF token, with a wrong one, or from another browser (no cookie): 403, the request untouched', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock);
    try {
      const client = await registerClient(h.url);
      const page = await openAuthorize(authorizeUrl(h.url, { clientId: client.client_id, challenge: pkcePair().challenge }));
      assert.match(page.cookie, /^harbor_signin_[0-9a-f]{12}=/);
      assert.equal((await submitSignIn(h.url, { ...page, csrf: '' }, { name: 'erin' })).status, 403);
      assert.equal((await submitSignIn(h.url, { ...page, csrf: 'forged-token-forged-token-forged' }, { name: 'erin' })).status, 403);
      assert.equal((await submitSignIn(h.url, page, { name: 'erin' }, '')).status, 403);
      assert.equal((await pollWait(h.url, page, '')).status, 403, 'the waiting page is the opening browser\'s only');
      assert.deepEqual(((await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/approvals')).json()) as { approvals: unknown[] }).approvals, []);
      // The genuine form still goes through.
      assert.equal((await submitSignIn(h.url, page, { name: 'erin' })).status, 303);
      assert.equal((await submitSignIn(h.url, page, { name: 'erin' })).status, 409, 'submitted once');
    } finally {
      await h.close();
    }
  });

  test('sign-in attempts are rate-limited per visitor (429 with Retry-After)', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock, {}, { ...GENEROUS, signInBurst: 3, signInPerMinute: 1 });
    try {
      const client = await registerClient(h.url);
      const page = await openAuthorize(authorizeUrl(h.url, { clientId: client.client_id, challenge: pkcePair().challenge }));
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await submitSignIn(h.url, page, { code: 'WRONG-CODE0' }));
      assert.deepEqual(answers.map((r) => r.status), [400, 400, 400, 429]);
      assert.ok(Number(answers[3]!.headers.get('retry-after')) >= 1);
    } finally {
      await h.close();
    }
  });
};

const inviteCases = () => {
  test('a one-time code lets its teammate in without a second question, once', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock);
    try {
      const res = await adminFetch(h.url, h.host.adminSecret, 'POST', '/admin/invites', { name: 'dave', code: true });
      assert.equal(res.status, 201);
      const { invite, urls } = (await res.json()) as { invite: { name: string; code: string; expiresAt: number }; urls: string[] };
      assert.match(invite.code, /^[2-9A-Z]{5}-[2-9A-Z]{5}$/);
      assert.deepEqual(urls, [`${h.url}/docs/mcp`]);
      assert.ok(!urls.some((u) => u.includes(invite.code)), 'no secret in the connection URL');

      const client = await registerClient(h.url);
      const pkce = pkcePair();
      const page = await openAuthorize(authorizeUrl(h.url, { clientId: client.client_id, challenge: pkce.challenge, resource: `${h.url}/mcp/docs` }));
      assert.equal((await submitSignIn(h.url, page, { code: invite.code.toLowerCase().replace('-', ' ') })).status, 303);
      const back = await pollWait(h.url, page);
      assert.equal(back.status, 302);
      const code = new URL(back.headers.get('location')!).searchParams.get('code')!;
      const tokens = (await (await exchange(h, client.client_id, code, pkce.verifier)).json()) as { access_token: string };
      assert.equal((await mcpPost(h, 'docs', tokens.access_token)).status, 200);

      const again = await openAuthorize(authorizeUrl(h.url, { clientId: client.client_id, challenge: pkce.challenge }));
      const reuse = await submitSignIn(h.url, again, { code: invite.code });
      assert.equal(reuse.status, 400, 'the code was spent');
      assert.match(await reuse.text(), /unknown, used or expired/);
      // By name, the invited teammate still asks the owner; the owner sees they were invited.
      assert.equal((await submitSignIn(h.url, again, { name: 'DAVE' })).status, 303);
      const approvals = ((await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/approvals')).json()) as { approvals: Array<{ teammate: string; invited: boolean }> }).approvals;
      assert.deepEqual(approvals.map((a) => [a.teammate, a.invited]), [['dave', true]]);
    } finally {
      await h.close();
    }
  });
};

describe('what is advertised', () => {
  test('auth "tokens" (the default): nothing of OAuth, a clean 404 on /.well-known/oauth-*, a 401 without resource_metadata', async () => {
    const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS });
    try {
      for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp/docs', '/.well-known/oauth-authorization-server', '/authorize', '/signin']) {
        const res = await fetch(h.url + path);
        assert.equal(res.status, 404, path);
        await res.arrayBuffer();
      }
      const res = await mcpPost(h, 'docs', 'hbr_not-a-token');
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="harbor", error="invalid_token", error_description="the Harbor token is invalid or revoked[^"]*"$/);
      assert.equal((await mcpPost(h, 'docs', h.token)).status, 200);
    } finally {
      await h.close();
    }
  });

  test('auth "both": metadata per RFC 9728 and 8414, a 401 that points to it, the static token as before; the tunnel origin has its own issuer', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock);
    try {
      const unauthenticated = await fetch(`${h.url}/mcp/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      assert.equal(unauthenticated.status, 401);
      const challenge = unauthenticated.headers.get('www-authenticate')!;
      assert.match(challenge, /^Bearer /);
      assert.match(challenge, /scope="mcp"/);
      assert.match(challenge, new RegExp(`resource_metadata="${h.url}/.well-known/oauth-protected-resource/mcp/docs"`));
      const prm = (await (await fetch(`${h.url}/.well-known/oauth-protected-resource/mcp/docs`)).json()) as { resource: string; authorization_servers: string[]; scopes_supported: string[] };
      assert.deepEqual(prm, { resource: `${h.url}/mcp/docs`, authorization_servers: [`${h.url}/`], scopes_supported: ['mcp'], resource_name: 'Harbor: docs' });
      assert.equal((await fetch(`${h.url}/.well-known/oauth-protected-resource/mcp/nope`)).status, 404);
      const root = (await (await fetch(`${h.url}/.well-known/oauth-protected-resource`)).json()) as { resource: string };
      assert.equal(root.resource, `${h.url}/`);
      const as = (await (await fetch(`${h.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      assert.equal(as.issuer, `${h.url}/`);
      assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(as.grant_types_supported, ['authorization_code', 'refresh_token']);
      assert.ok(as.registration_endpoint && as.revocation_endpoint);
      // Static tokens keep working exactly as before, header and path form.
      assert.equal((await mcpPost(h, 'docs', h.token)).status, 200);
      const viaPath = await fetch(`${h.url}/t/${h.token}/mcp/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) });
      assert.equal(viaPath.status, 200);

      // Through the tunnel: its https origin is the issuer, the sign-in page answers, the admin API does not.
      h.host.applyShareState({ state: 'online', mode: 'quick', publicUrl: 'https://harbor-test.trycloudflare.com', lastError: null });
      const tunnel = { Host: 'harbor-test.trycloudflare.com', 'cf-connecting-ip': '203.0.113.9', 'x-forwarded-proto': 'https' };
      const remote = await rawRequest(`${h.url}/.well-known/oauth-authorization-server`, 'GET', tunnel);
      assert.equal(JSON.parse(remote.body).issuer, 'https://harbor-test.trycloudflare.com/');
      const client = await registerClient(h.url);
      const authorize = authorizeUrl('https://harbor-test.trycloudflare.com', { clientId: client.client_id, challenge: pkcePair().challenge });
      const signInPage = await rawRequest(`${h.url}${authorize.pathname}${authorize.search}`, 'GET', tunnel);
      assert.equal(signInPage.status, 200);
      assert.match(signInPage.body, /<form method="post" action="\/signin">/);
      assert.doesNotMatch(signInPage.body, /(src|href)=/, 'no external assets');
      assert.match(String(signInPage.headers['content-security-policy']), /default-src 'none'/);
      assert.match(String(signInPage.headers['set-cookie']), /Secure/);
      const admin = await rawRequest(`${h.url}/admin/approvals`, 'GET', { ...tunnel, [ADMIN_SECRET_HEADER]: h.host.adminSecret });
      assert.equal(admin.status, 403);
    } finally {
      await h.close();
    }
  });

  test('a sign-in for the legacy SSE URL works on /sse and its /messages, not on /mcp', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock);
    try {
      const challenge = await fetch(`${h.url}/sse/docs`);
      assert.equal(challenge.status, 401);
      assert.match(challenge.headers.get('www-authenticate')!, new RegExp(`resource_metadata="${h.url}/.well-known/oauth-protected-resource/sse/docs"`));
      const { client, pkce, code } = await approvedCode(h, `${h.url}/sse/docs`);
      const { access_token } = (await (await exchange(h, client.client_id, code, pkce.verifier)).json()) as { access_token: string };
      const legacy = await connectClient(h.url, 'docs', access_token, { legacy: true });
      assert.ok((await legacy.listTools()).tools.length > 0, 'GET /sse and POST /messages both accepted the token');
      await legacy.close();
      assert.equal((await mcpPost(h, 'docs', access_token)).status, 401);
    } finally {
      await h.close();
    }
  });

  test('auth "oauth": a static token is refused with the sign-in challenge', async () => {
    const clock = { now: Date.now() };
    const h = await oauthHost(clock, { auth: 'oauth' });
    try {
      const res = await mcpPost(h, 'docs', h.token);
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate')!, /resource_metadata=/);
      const viaPath = await fetch(`${h.url}/t/${h.token}/mcp/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      assert.equal(viaPath.status, 401);
    } finally {
      await h.close();
    }
  });
});

for (const store of hostStoreBackends()) {
  describe(`on ${store.name}`, { skip: store.skip }, () => {
    before(async () => {
      await store.start();
      backend = store;
    });
    after(() => store.stop());
    describe('Sign in with Harbor refuses', refusalCases);
    describe('invites', inviteCases);
  });
}
