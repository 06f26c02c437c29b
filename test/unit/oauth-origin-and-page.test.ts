import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { canonicalResource, clientAddress, requestOrigin } from '../../server/oauth/oauth-origin.ts';
import { escapeHtml, signInForm } from '../../server/oauth/sign-in-page.ts';

// The sign-in request store's cases run on both backends: test/store/grant-store.test.ts.

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
  assert.equal(
    clientAddress(fakeRequest('mcp.example.com', '127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7' })),
    '198.51.100.7',
    'behind nginx, the entry nginx appended names the visitor, not the ones the visitor sent',
  );
  assert.equal(clientAddress(fakeRequest('mcp.example.com', '127.0.0.1', { 'x-forwarded-for': ' 198.51.100.7 ' })), '198.51.100.7');
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
