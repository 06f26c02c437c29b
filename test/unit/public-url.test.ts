/**
 * HARBOR_PUBLIC_URL (issue 18, sign-in behind nginx): validated at start with the variable named, and
 * once set, the origin of every request but this machine's own loopback ones, whatever its headers say.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { containerSettings, signInAddressWarning } from '../../main/commands/serve-container.ts';
import { UsageError } from '../../main/commands/common.ts';
import { parsePublicUrl, PublicUrlError, signInPossibleAt } from '../../server/access/public-url.ts';
import { requestOrigin } from '../../server/oauth/oauth-origin.ts';
import { harborResult } from '../helpers/harbor-cli.ts';

test('a public URL is an http(s) origin: normalised, or refused naming the variable and the problem', () => {
  assert.equal(parsePublicUrl('https://MCP.Example.com/'), 'https://mcp.example.com');
  assert.equal(parsePublicUrl(' https://mcp.example.com:8443 '), 'https://mcp.example.com:8443');
  assert.equal(parsePublicUrl('https://mcp.example.com:443'), 'https://mcp.example.com', 'the default port is dropped');
  assert.equal(parsePublicUrl('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
  assert.equal(parsePublicUrl(undefined), null);
  assert.equal(parsePublicUrl('  '), null, 'an empty value (compose passes ${HARBOR_PUBLIC_URL:-}) is unset');
  const refusals: Array<[string, RegExp]> = [
    ['mcp.example.com', /an absolute URL/],
    ['https//mcp.example.com', /an absolute URL/],
    ['ftp://mcp.example.com', /https:\/\/ \(or http:\/\/\)/],
    ['https://mcp.example.com/?x=1', /without a query/],
    ['https://mcp.example.com?', /without a query/],
    ['https://mcp.example.com/#top', /without a fragment/],
    ['https://mcp.example.com/harbor', /without a path/],
  ];
  for (const [raw, why] of refusals) {
    assert.throws(() => parsePublicUrl(raw), (error: Error) => error instanceof PublicUrlError && /^HARBOR_PUBLIC_URL must be /.test(error.message) && why.test(error.message) && error.message.includes(raw), raw);
  }
  assert.throws(() => parsePublicUrl('https://alice:s3cret@mcp.example.com'), (error: Error) => /without a user name or password/.test(error.message) && !error.message.includes('s3cret'), 'refused, the password not echoed');
  // Refused for another reason before the credentials check: still not echoed.
  for (const raw of ['https://alice:s3cret@mcp example.com', 'alice:s3cret@mcp.example.com']) {
    assert.throws(() => parsePublicUrl(raw), (error: Error) => error instanceof PublicUrlError && error.message.includes('***@') && !error.message.includes('s3cret'), raw);
  }
});

test('container mode reads HARBOR_PUBLIC_URL and stops on a typo with a usage error', () => {
  assert.equal(containerSettings({ HARBOR_PUBLIC_URL: 'https://mcp.example.com/' }, undefined).publicUrl, 'https://mcp.example.com');
  assert.equal(containerSettings({}, undefined).publicUrl, undefined);
  assert.equal(containerSettings({ HARBOR_PUBLIC_URL: '' }, undefined).publicUrl, undefined);
  assert.throws(() => containerSettings({ HARBOR_PUBLIC_URL: 'mcp.example.com' }, undefined), (e: Error) => e instanceof UsageError && /HARBOR_PUBLIC_URL must be an absolute URL/.test(e.message));
});

test('sign-in is possible at https, or at plain http on localhost only (the SDK\'s issuer rule)', () => {
  assert.equal(signInPossibleAt('https://mcp.example.com'), true);
  assert.equal(signInPossibleAt('http://127.0.0.1:8080'), true);
  assert.equal(signInPossibleAt('http://localhost:8080'), true);
  assert.equal(signInPossibleAt('http://mcp.internal'), false);
});

function fakeRequest(host: string | undefined, remote: string, headers: Record<string, string> = {}): IncomingMessage {
  return { headers: { ...(host ? { host } : {}), ...headers }, socket: { remoteAddress: remote } } as unknown as IncomingMessage;
}

test('with a public URL, every request but this machine\'s own is its origin: no Host or X-Forwarded-* moves it', () => {
  const sources = { localPort: () => 7837, publicUrl: () => null, configuredUrl: 'https://mcp.example.com' };
  const viaNginx = { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'http' };
  assert.equal(requestOrigin(fakeRequest('mcp.example.com', '172.18.0.4', viaNginx), sources), 'https://mcp.example.com');
  assert.equal(requestOrigin(fakeRequest('harbor-1:7837', '172.18.0.4', viaNginx), sources), 'https://mcp.example.com', 'a proxy that rewrites Host');
  assert.equal(requestOrigin(fakeRequest('evil.example', '172.18.0.4', { ...viaNginx, 'x-forwarded-host': 'evil.example' }), sources), 'https://mcp.example.com');
  assert.equal(requestOrigin(fakeRequest(undefined, '172.18.0.4'), sources), 'https://mcp.example.com');
  assert.equal(requestOrigin(fakeRequest('127.0.0.1:7837', '127.0.0.1', viaNginx), sources), 'https://mcp.example.com', 'nginx on the same machine');
  // The owner's own client on the replica's loopback keeps the URL it used (its resource must match).
  assert.equal(requestOrigin(fakeRequest('127.0.0.1:7837', '127.0.0.1'), sources), 'http://127.0.0.1:7837');
  // Unset: as before, a Host that names no address of Harbor's gets no issuer.
  assert.equal(requestOrigin(fakeRequest('mcp.example.com', '172.18.0.4', viaNginx), { ...sources, configuredUrl: null }), null);
});

test('offline `harbor token add` with a malformed HARBOR_PUBLIC_URL stops with a usage error and stores no token nobody was shown', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'harbor-public-url-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, HARBOR_HOME: home };
  delete env.HARBOR_DATABASE_URL;
  const added = await harborResult({ ...env, HARBOR_PUBLIC_URL: 'https://mcp.example.com/harbor' }, ['token', 'add', 'zed']);
  assert.equal(added.code, 2, added.stderr);
  assert.match(added.stderr, /^harbor: HARBOR_PUBLIC_URL must be .*without a path/);
  assert.doesNotMatch(added.stderr, /\n\s+at /, 'no stack trace');
  const listed = await harborResult({ ...env, HARBOR_PUBLIC_URL: '' }, ['token', 'list', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout), [], 'no token was stored for zed');
});

test('the start-up warning about sign-in behind a proxy: unset, or plain http off localhost; nothing when sign-in can work or is off', () => {
  for (const auth of ['both', 'oauth']) {
    assert.match(signInAddressWarning(auth, undefined) ?? '', /^sign-in is on but HARBOR_PUBLIC_URL is unset: behind nginx teammates cannot sign in/);
    for (const plain of ['http://mcp.example.com', 'http://10.0.0.5:8080']) assert.match(signInAddressWarning(auth, plain) ?? '', /^sign-in needs HARBOR_PUBLIC_URL to be https:\/\//, plain);
    for (const fine of ['https://mcp.example.com', 'http://localhost:8080', 'http://127.0.0.1:7837']) assert.equal(signInAddressWarning(auth, fine), null, fine);
  }
  assert.equal(signInAddressWarning('tokens', undefined), null, 'static tokens only: no sign-in to warn about');
  assert.equal(signInAddressWarning('tokens', 'http://mcp.example.com'), null);
});
