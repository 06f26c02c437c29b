import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { canonicalResource, clientAddress, requestOrigin } from '../../server/oauth/oauth-origin.ts';
import { escapeHtml, signInForm } from '../../server/oauth/sign-in-page.ts';
import { SignInRequests, type AuthorizationRequest } from '../../server/oauth/sign-in-requests.ts';

const AUTH: AuthorizationRequest = { clientId: 'c', clientName: 'Cursor', redirectUri: 'http://127.0.0.1/cb', codeChallenge: 'x', scopes: ['mcp'], resource: 'r', issuer: 'i' };

test('a request answers only the browser that opened it, and the form only with its CSRF token', () => {
  const requests = new SignInRequests();
  const r = requests.open(AUTH);
  assert.equal(requests.get(r.id, r.browser).id, r.id);
  assert.throws(() => requests.get(r.id, undefined), (e: { status: number }) => e.status === 403);
  assert.throws(() => requests.get(r.id, 'other'), (e: { status: number }) => e.status === 403);
  assert.throws(() => requests.get(r.id, r.browser, null), (e: { status: number }) => e.status === 403);
  assert.throws(() => requests.get(r.id, r.browser, r.csrf + 'x'), (e: { status: number }) => e.status === 403);
  assert.equal(requests.get(r.id, r.browser, r.csrf).id, r.id);
  assert.throws(() => requests.get('000000000000', r.browser), (e: { status: number }) => e.status === 404);
});

test('waiting, the owner decides once; requests expire after the TTL, counted again from submission', () => {
  const clock = { now: 0 };
  const requests = new SignInRequests({ now: () => clock.now, ttlMs: 1000 });
  const asked: string[] = [];
  requests.onWaiting = (a) => asked.push(a.teammate);
  const r = requests.open(AUTH);
  clock.now = 900;
  requests.submit(r, 'alice', { invited: false, preApproved: false });
  assert.deepEqual(asked, ['alice']);
  assert.throws(() => requests.submit(r, 'alice', { invited: false, preApproved: false }), /already submitted/);
  clock.now = 1800; // 1.8 s after opening, 0.9 s after submitting: still waiting
  assert.deepEqual(requests.pending().map((p) => [p.teammate, p.client, p.expiresAt]), [['alice', 'Cursor', 1900]]);
  clock.now = 1900;
  assert.deepEqual(requests.pending(), []);
  assert.throws(() => requests.decide(r.id, true), /no sign-in request/);

  const s = requests.open(AUTH);
  requests.submit(s, 'bob', { invited: true, preApproved: false });
  assert.equal(requests.decide(s.id, false).teammate, 'bob');
  assert.throws(() => requests.decide(s.id, true), /no sign-in request/, 'answered once');
});

test('the table is bounded: beyond the cap new sign-ins are refused with 503 until old ones expire', () => {
  const clock = { now: 0 };
  const requests = new SignInRequests({ now: () => clock.now, ttlMs: 1000, maxRequests: 3 });
  for (let i = 0; i < 3; i++) requests.open(AUTH);
  assert.throws(() => requests.open(AUTH), (e: { status: number }) => e.status === 503);
  clock.now = 1000;
  requests.open(AUTH);
  assert.equal(requests.size, 1);
});

function fakeRequest(host: string, remote = '127.0.0.1', headers: Record<string, string> = {}): IncomingMessage {
  return { headers: { host, ...headers }, socket: { remoteAddress: remote } } as unknown as IncomingMessage;
}

test('the origin comes from Harbor\'s own addresses only: a forged Host gets no issuer', () => {
  const sources = { localPort: () => 7837, publicUrl: () => 'https://abc.trycloudflare.com' };
  assert.equal(requestOrigin(fakeRequest('127.0.0.1:7837'), sources), 'http://127.0.0.1:7837');
  assert.equal(requestOrigin(fakeRequest('localhost:7837'), sources), 'http://localhost:7837');
  assert.equal(requestOrigin(fakeRequest('abc.trycloudflare.com', '127.0.0.1', { 'cf-ray': '1' }), sources), 'https://abc.trycloudflare.com');
  assert.equal(requestOrigin(fakeRequest('evil.example'), sources), null);
  assert.equal(requestOrigin(fakeRequest('127.0.0.1:7837', '10.0.0.5'), sources), null, 'a LAN peer claiming loopback');
  assert.equal(requestOrigin(fakeRequest('127.0.0.1:7837', '127.0.0.1', { 'x-forwarded-for': '1.2.3.4' }), sources), null);
  assert.equal(clientAddress(fakeRequest('abc.trycloudflare.com', '127.0.0.1', { 'cf-connecting-ip': '203.0.113.9' })), '203.0.113.9');
  assert.equal(clientAddress(fakeRequest('x', '10.0.0.5', { 'cf-connecting-ip': '203.0.113.9' })), '10.0.0.5', 'only the local connector is trusted to name the visitor');
  assert.equal(canonicalResource('http://h:1/'), 'http://h:1');
  assert.equal(canonicalResource('http://h:1/mcp/docs#x'), 'http://h:1/mcp/docs');
});

test('the sign-in page escapes what the client chose (its name) and links nothing external', () => {
  const html = signInForm({ requestId: 'abc', csrf: 't"k', clientName: '<img src=x onerror=alert(1)>', resource: 'http://h/mcp/docs' });
  assert.ok(!html.includes('<img'));
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.match(html, /value="t&quot;k"/);
  assert.doesNotMatch(html, /<(script|link|img)\b/);
  assert.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;');
});
