import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import type { ActivityEntry, TeammateConnection } from '../../server/admin/host-api.ts';
import { authHeaders, connectClient, GENEROUS_LIMITS, ROOT, startTestHost, type TestHost } from '../helpers/harbor.ts';
import { harbor } from '../helpers/harbor-cli.ts';
import { adminFetch, authorizeUrl, pkcePair, registerClient, signInAndApprove, tokenRequest } from '../helpers/oauth-browser.ts';

// Issue 18.3: the audit log and the Team tab show how each teammate connected. A real host with
// "auth": "both": alice with her static token, bob signed in from a client named "Claude Code"; every
// era and transport (2025 Streamable HTTP, legacy SSE, 2026-07-28 per request) records the way in.
const FIXTURE = join(ROOT, 'test/fixtures/conformance-server/server.ts');
const REDIRECT = 'http://127.0.0.1:53682/callback';

/** Bob's access token, issued by the real flow: registration as `client`, sign-in, the owner's approval, code exchange. */
async function signInAccessToken(h: TestHost, teammate: string, client: string): Promise<string> {
  const { client_id } = await registerClient(h.url, REDIRECT, client);
  const { verifier, challenge } = pkcePair();
  const redirect = await signInAndApprove(h.url, h.host.adminSecret, authorizeUrl(h.url, { clientId: client_id, challenge, resource: h.url }), teammate);
  const exchanged = await tokenRequest(h.url, { grant_type: 'authorization_code', client_id, code: redirect.searchParams.get('code')!, code_verifier: verifier, redirect_uri: REDIRECT });
  assert.equal(exchanged.status, 200);
  return ((await exchanged.json()) as { access_token: string }).access_token;
}

async function modernCall(h: TestHost, token: string): Promise<void> {
  const client = new ClientV2({ name: 'v2-client', version: '2.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await client.connect(new TransportV2(new URL(`${h.url}/conformance/mcp`), { requestInit: { headers: authHeaders(token) } }));
  try {
    await client.callTool({ name: 'test_simple_text', arguments: {} });
  } finally {
    await client.close();
  }
}

async function admin<T>(h: TestHost, path: string): Promise<T> {
  const res = await adminFetch(h.url, h.host.adminSecret, 'GET', path);
  assert.equal(res.status, 200, path);
  return (await res.json()) as T;
}

test('each audited call says how its caller authenticated: static token or sign-in with the client name', async () => {
  const h = await startTestHost({
    docs: { folder: 'docs' },
    mcpServers: { conformance: { command: process.execPath, args: [FIXTURE], mode: 'shared' } },
    limits: GENEROUS_LIMITS,
    auth: 'both',
  });
  try {
    const bobToken = await signInAccessToken(h, 'bob', 'Claude Code');
    for (const [token, legacy] of [[h.token, false], [h.token, true], [bobToken, false]] as const) {
      const client = await connectClient(h.url, 'docs', token, { legacy });
      await client.callTool({ name: 'list_docs', arguments: {} });
      await client.close();
    }
    await modernCall(h, h.token);
    await modernCall(h, bobToken);

    const { entries } = await admin<{ entries: ActivityEntry[] }>(h, '/admin/activity?limit=1000');
    const calls = entries.filter((e) => e.method === 'tools/call').map((e) => [e.teammate, e.server, e.via]);
    const alice = { kind: 'token', token: 'alice' };
    const claude = { kind: 'sign-in', client: 'Claude Code' };
    assert.deepEqual(calls.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [
      ['alice', 'conformance', alice],
      ['alice', 'docs', alice],
      ['alice', 'docs', alice],
      ['bob', 'conformance', claude],
      ['bob', 'docs', claude],
    ]);
    assert.ok(entries.every((e) => e.via !== undefined), 'every call since the host started names its way in');

    const { connections } = await admin<{ connections: TeammateConnection[] }>(h, '/admin/activity/connections');
    const byTeammate = Object.fromEntries(connections.map((c) => [c.teammate, c]));
    assert.deepEqual(Object.keys(byTeammate).sort(), ['alice', 'bob']);
    assert.deepEqual(byTeammate.alice!.via, alice);
    assert.deepEqual(byTeammate.bob!.via, claude);
    assert.equal(byTeammate.alice!.calls, entries.filter((e) => e.teammate === 'alice').length);
    assert.equal(byTeammate.bob!.lastAt, Math.max(...entries.filter((e) => e.teammate === 'bob').map((e) => e.at)));

    // `harbor activity` against the running host: a CONNECTED column worded like the app's.
    const { stdout } = await harbor(h.home, 'activity', '--teammate', 'bob');
    const [header, ...lines] = stdout.trim().split('\n');
    assert.match(header!, /TEAMMATE\s+CONNECTED\s+SERVER/);
    assert.ok(lines.length > 0 && lines.every((line) => /bob\s+signed in from Claude Code\s/.test(line)), stdout);

    // `harbor token list`: how each token holder last connected, from the running host, then from the
    // file with no host (the same log). bob now holds a token too, but his last call was signed in.
    h.host.tokens.issue('bob');
    h.host.tokens.issue('carol');
    const tokenList = async () => {
      const listed = (await harbor(h.home, 'token', 'list')).stdout;
      assert.match(listed, /^NAME\s+CREATED\s+LAST USED\s+CALLS\s+LAST CONNECTED\s+STATUS$/m);
      assert.match(listed, /^alice\s.*\stoken `alice`\s+active$/m, listed);
      assert.match(listed, /^bob\s.*\ssigned in from Claude Code\s+active$/m, listed);
      assert.match(listed, /^carol\s.*\s0\s+-\s+active$/m, 'no call yet: -');
    };
    await tokenList();
    await h.host.close();
    await tokenList();
  } finally {
    await h.close();
  }
});

test('a registered client\'s name reaches the audit log and `harbor activity` cleaned as the owner approved it: no control characters', async () => {
  const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both' });
  try {
    // A terminal escape (clear screen, retitle the window) and a bidi override, as a hostile registration would send.
    const token = await signInAccessToken(h, 'mallory', 'Evil\u001b[2J\u001b]0;pwned\u0007 \u202eClient');
    const client = await connectClient(h.url, 'docs', token);
    await client.callTool({ name: 'list_docs', arguments: {} });
    await client.close();

    const { entries } = await admin<{ entries: ActivityEntry[] }>(h, '/admin/activity?teammate=mallory');
    const vias = entries.filter((e) => e.method === 'tools/call').map((e) => e.via);
    assert.deepEqual(vias, [{ kind: 'sign-in', client: 'Evil[2J]0;pwned Client' }]);
    const { stdout } = await harbor(h.home, 'activity', '--teammate', 'mallory');
    assert.doesNotMatch(stdout, /[\u0000-\u0008\u000b-\u001f\u007f\u202e]/, 'no control or format character reaches the terminal');
  } finally {
    await h.close();
  }
});
