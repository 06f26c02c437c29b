import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { InvalidClientError, InvalidRequestError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { fetchJsonDocument, FetchRefusedError, type BoundedFetchOptions } from '../../server/oauth/bounded-json-fetch.ts';
import {
  cacheTtlMs,
  clientFromDocument,
  clientIdUrl,
  clientMetadataDocuments,
  DEFAULT_TTL,
  describeClient,
  isClientIdUrl,
} from '../../server/oauth/client-metadata-documents.ts';
import { guardedLookup, refusedAddress } from '../../server/oauth/outbound-address-policy.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/client-document-server.ts';
import { waitFor } from '../helpers/harbor.ts';

const ID = 'https://client.example/oauth/client.json';
const REDIRECT = 'http://127.0.0.1:8765/callback';

describe('client ID URLs (draft section 3)', () => {
  test('an https URL with a path is one; the rest are refused as invalid_request, saying why', () => {
    assert.equal(clientIdUrl(ID).href, ID);
    assert.equal(clientIdUrl('https://client.example:8443/c?v=2').port, '8443', 'a port and a query are allowed');
    assert.ok(isClientIdUrl(ID) && isClientIdUrl('HTTP://x/y') && !isClientIdUrl('3f2a9c1e-uuid'));
    const cases: Array<[string, RegExp]> = [
      ['http://client.example/c.json', /scheme must be https/],
      ['https://client.example/', /needs a path/],
      ['https://client.example', /needs a path/],
      ['https://client.example/c.json#frag', /no fragment/],
      ['https://user:pw@client.example/c.json', /no user name/],
      ['https://client.example/a/../c.json', /dot segments|\.\. path segments/],
      ['https://client.example/./c.json', /path segments/],
      ['https://client.example/a/%2E%2e/c.json', /path segments/],
      [`https://client.example/${'a'.repeat(2001)}`, /longer than 2000/],
    ];
    for (const [id, why] of cases) {
      assert.throws(() => clientIdUrl(id), (error: Error) => error instanceof InvalidRequestError && why.test(error.message), id);
    }
    assert.equal(clientIdUrl('http://127.0.0.1:9/c', true).protocol, 'http:', 'plain http only with the dev option');
  });
});

describe('the document, as the client', () => {
  const good = { client_id: ID, client_name: 'Doc Client', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };

  test('an acceptable document becomes a public client', () => {
    const client = clientFromDocument(ID, { ...good, logo_uri: 'https://client.example/logo.png', extra: 'ignored' });
    assert.equal(client.client_id, ID);
    assert.equal(client.token_endpoint_auth_method, 'none');
    assert.deepEqual(client.redirect_uris, [REDIRECT]);
    const { token_endpoint_auth_method: _omit, ...absent } = good;
    assert.equal(clientFromDocument(ID, absent).token_endpoint_auth_method, 'none', 'absent is public too');
  });

  test('each unacceptable document is invalid_client with a description', () => {
    const cases: Array<[unknown, RegExp]> = [
      [[good], /not a JSON object/],
      ['text', /not a JSON object/],
      [{ ...good, client_id: `${ID}/` }, /is not the URL it was fetched from/],
      [{ ...good, client_id: 'https://CLIENT.example/oauth/client.json' }, /is not the URL/],
      [{ ...good, client_id: undefined }, /is not the URL/],
      [{ ...good, client_secret: 's3cret' }, /client_secret/],
      [{ ...good, token_endpoint_auth_method: 'client_secret_basic' }, /token_endpoint_auth_method: must be "none"/],
      [{ ...good, redirect_uris: undefined }, /redirect_uris/],
      [{ ...good, redirect_uris: [] }, /redirect_uris: 1 to 10/],
      [{ ...good, redirect_uris: ['javascript:alert(1)'] }, /redirect_uris/],
      [{ ...good, redirect_uris: ['http://evil.example/cb'] }, /http: is allowed only/],
      [{ ...good, grant_types: ['client_credentials'] }, /grant_types must include authorization_code/],
      [{ ...good, response_types: ['token'] }, /response_types must include code/],
    ];
    for (const [document, why] of cases) {
      assert.throws(() => clientFromDocument(ID, document), (error: Error) => error instanceof InvalidClientError && why.test(error.message), `${JSON.stringify(document)}`);
    }
  });

  test('the owner sees the claimed name with the host of the URL; control characters go', () => {
    assert.equal(describeClient(clientFromDocument(ID, good)), 'Doc Client (client.example)');
    assert.equal(describeClient(clientFromDocument(ID, { ...good, client_name: 'Cla\u202eude\u0007' })), 'Claude (client.example)');
    assert.equal(describeClient(clientFromDocument(ID, { ...good, client_name: undefined })), 'client.example');
    assert.equal(describeClient({ client_id: 'f00-uuid', client_name: 'Registered', redirect_uris: [REDIRECT] }), 'Registered');
    assert.equal(describeClient({ client_id: 'f00-uuid', redirect_uris: [REDIRECT] }), 'an MCP client');
  });

  test('cache lifetime: max-age within bounds; no-store and no-cache get the minimum', () => {
    assert.equal(cacheTtlMs(undefined), DEFAULT_TTL.defaultMs);
    assert.equal(cacheTtlMs('public, max-age=3600'), 3_600_000);
    assert.equal(cacheTtlMs('max-age=5'), DEFAULT_TTL.minMs);
    assert.equal(cacheTtlMs('max-age=99999999'), DEFAULT_TTL.maxMs);
    assert.equal(cacheTtlMs('no-store, max-age=3600'), DEFAULT_TTL.minMs);
    assert.equal(cacheTtlMs('No-Cache'), DEFAULT_TTL.minMs);
    assert.equal(cacheTtlMs('max-age=abc'), DEFAULT_TTL.defaultMs);
  });
});

describe('outbound addresses (SSRF)', () => {
  test('private, link-local, reserved and (without the dev option) loopback addresses are refused', () => {
    const strict = { allowLoopback: false };
    for (const address of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', 'fc00::1', 'fd12::1', 'fe80::1', '::', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::a00:1', '127.0.0.1', '127.9.9.9', '::1']) {
      assert.ok(refusedAddress(address, strict), address);
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111']) assert.equal(refusedAddress(address, strict), null, address);
    assert.equal(refusedAddress('127.0.0.1', { allowLoopback: true }), null);
    assert.equal(refusedAddress('::1', { allowLoopback: true }), null);
    assert.ok(refusedAddress('10.0.0.1', { allowLoopback: true }), 'the dev option opens loopback only');
  });

  test('IPv6 forms that carry an IPv4 address or route to a site\'s own are refused: IPv4-compatible, -translated, local NAT64, Teredo, site-local', () => {
    // ::7f00:1 is ::127.0.0.1 (IPv4-compatible), ::ffff:0:7f00:1 IPv4-translated 127.0.0.1, 64:ff9b:1::a00:1 a local NAT64 prefix before 10.0.0.1.
    for (const address of ['::7f00:1', '::a00:1', '::ffff:0:7f00:1', '64:ff9b:1::a00:1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', 'fec0::1']) {
      assert.ok(refusedAddress(address, { allowLoopback: false }), address);
      assert.ok(refusedAddress(address, { allowLoopback: true }), `${address}, even with the dev option`);
    }
    for (const address of ['8.8.8.8', '2606:4700:4700::1111', '2a00:1450:4001::200e']) assert.equal(refusedAddress(address, { allowLoopback: false }), null, `${address} stays allowed`);
  });

  test('the socket lookup refuses a name that resolves to a refused address', async () => {
    const resolve = (allowLoopback: boolean) =>
      new Promise<{ error: Error | null; address: unknown }>((done) => guardedLookup({ allowLoopback })('localhost', { all: true }, (error, address) => done({ error, address })));
    const refused = await resolve(false);
    assert.match(refused.error?.message ?? '', /localhost: .* loopback address/);
    const allowed = await resolve(true);
    assert.equal(allowed.error, null);
    assert.ok(Array.isArray(allowed.address) && allowed.address.length >= 1);
  });
});

describe('the bounded fetch and the cache, against a real HTTPS server', () => {
  let docs: DocumentServer;
  let options: BoundedFetchOptions;
  before(async () => {
    docs = await startDocumentServer();
    // A deadline no loaded machine reaches for answers that come; the silent cases get a short one of their own.
    options = { timeoutMs: 30_000, maxBytes: 1024, allowLoopback: true, ca: docs.cert };
  });
  after(() => docs.close());

  const refusal = async (url: string, fetchOptions = options) => {
    const error = await fetchJsonDocument(new URL(url), fetchOptions).then(() => null, (e: Error) => e);
    assert.ok(error instanceof FetchRefusedError, `refused: ${url} (${error?.message})`);
    return error.message;
  };

  test('a JSON document is fetched with its Cache-Control', async () => {
    const url = docs.serve('/ok.json', (u) => ({ client_id: u }), { 'Cache-Control': 'max-age=120' });
    const fetched = await fetchJsonDocument(new URL(url), options);
    assert.deepEqual(fetched, { body: { client_id: url }, cacheControl: 'max-age=120' });
    docs.route('/typed.json', (_q, res) => res.writeHead(200, { 'Content-Type': 'application/client-metadata+json; charset=utf-8' }).end('{"a":1}'));
    assert.deepEqual((await fetchJsonDocument(new URL(`${docs.origin}/typed.json`), options)).body, { a: 1 });
  });

  test('every way a server can misbehave is refused with a reason', async () => {
    docs.route('/redirect.json', (_q, res) => res.writeHead(302, { Location: `${docs.origin}/ok.json` }).end());
    docs.route('/missing.json', (_q, res) => res.writeHead(404).end());
    docs.route('/html', (_q, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html></html>'));
    docs.route('/untyped', (_q, res) => res.writeHead(200).end('{}'));
    docs.route('/broken.json', (_q, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"client_id":'));
    docs.route('/declared-large.json', (_q, res) => res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '5000' }).end('x'.repeat(5000)));
    // No Content-Length: the cap is met while reading.
    docs.route('/streamed-large.json', (_q, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      for (let i = 0; i < 8; i++) res.write(`"${'x'.repeat(500)}",`);
      res.end();
    });
    docs.route('/silent.json', () => {});
    docs.route('/trickle.json', (_q, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).write('{'));

    assert.match(await refusal(`${docs.origin}/redirect.json`), /HTTP 302: redirects are not followed/);
    assert.equal(docs.hits('/ok.json'), 1, 'the redirect was not followed');
    assert.match(await refusal(`${docs.origin}/missing.json`), /HTTP 404/);
    assert.match(await refusal(`${docs.origin}/html`), /not JSON \(Content-Type text\/html\)/);
    assert.match(await refusal(`${docs.origin}/untyped`), /not JSON \(Content-Type missing\)/);
    assert.match(await refusal(`${docs.origin}/broken.json`), /not valid JSON/);
    assert.match(await refusal(`${docs.origin}/declared-large.json`), /larger than 1024 bytes/);
    assert.match(await refusal(`${docs.origin}/streamed-large.json`), /larger than 1024 bytes/);
    const hasty = { ...options, timeoutMs: 400 };
    assert.match(await refusal(`${docs.origin}/silent.json`, hasty), /no answer within 400 ms/);
    assert.match(await refusal(`${docs.origin}/trickle.json`, hasty), /no answer within 400 ms/);
  });

  test('https only; loopback and private addresses refused without the dev option, before connecting', async () => {
    const strict = { ...options, allowLoopback: false };
    const before = docs.hits('/ok.json');
    assert.match(await refusal(`${docs.origin}/ok.json`, strict), /127\.0\.0\.1 is a loopback address/);
    assert.match(await refusal(`https://localhost:${docs.port}/ok.json`, strict), /localhost: .*loopback address/);
    assert.match(await refusal('https://10.0.0.1/c.json', options), /10\.0\.0\.1 is a private/);
    assert.match(await refusal('https://[fe80::1]/c.json', options), /fe80::1 is a private/);
    assert.match(await refusal(`http://127.0.0.1:${docs.port}/ok.json`, strict), /must be an https URL/);
    assert.match(await refusal('http://93.184.215.14/c.json', options), /must be an https URL/, 'the dev option opens plain http to loopback only');
    assert.equal(docs.hits('/ok.json'), before, 'nothing reached the server');
    // Without the test's CA the self-signed certificate is refused as any untrusted one would be.
    assert.match(await refusal(`${docs.origin}/ok.json`, { ...options, ca: undefined }), /could not be fetched: .*certificate/);
  });

  test('the cache: one fetch per max-age (clamped), concurrent callers share it, failures are not kept', async () => {
    let clock = 1_000_000; // lru-cache reads a start time of 0 as "no TTL"
    const resolver = clientMetadataDocuments({ allowLoopback: true, ca: docs.cert, timeoutMs: 2000, now: () => clock });
    const url = docs.serve('/cached.json', (u) => ({ client_id: u, client_name: 'Cached', redirect_uris: [REDIRECT] }), { 'Cache-Control': 'max-age=120' });
    const [a, b] = await Promise.all([resolver.get(url), resolver.get(url)]);
    assert.equal(a.client_name, 'Cached');
    assert.deepEqual(a, b);
    assert.equal(docs.hits('/cached.json'), 1, 'two concurrent callers, one fetch');
    assert.equal(resolver.describe(url), `Cached (127.0.0.1:${docs.port})`, 'described from the cache');
    assert.equal(resolver.describe('https://never.example/c.json'), 'never.example', 'uncached: the host alone, nothing fetched');
    clock += 119_000;
    await resolver.get(url);
    assert.equal(docs.hits('/cached.json'), 1, 'within max-age');
    clock += 2_000;
    await resolver.get(url);
    assert.equal(docs.hits('/cached.json'), 2, 'fetched again past max-age');

    // A bad document is refused and not kept: fixed, the next request takes the fixed one.
    let good = false;
    const flaky = docs.serve('/flaky.json', (u) => (good ? { client_id: u, redirect_uris: [REDIRECT] } : { client_id: 'https://other.example/c.json', redirect_uris: [REDIRECT] }));
    await assert.rejects(resolver.get(flaky), (error: Error) => error instanceof InvalidClientError && /not the URL it was fetched from/.test(error.message));
    good = true;
    assert.equal((await resolver.get(flaky)).client_id, flaky);
    assert.equal(docs.hits('/flaky.json'), 2);
  });

  test('fetches at once are capped: a new URL beyond the cap is refused at once, callers of the same URL share one', async () => {
    // A long deadline, and the server ends the slow fetch itself once the test is done: no race with a timer.
    const resolver = clientMetadataDocuments({ allowLoopback: true, ca: docs.cert, timeoutMs: 60_000, maxConcurrentFetches: 1 });
    let hold: ServerResponse | undefined;
    const slow = docs.route('/slow.json', (_q, res) => {
      hold = res;
    });
    const pending = [resolver.get(slow), resolver.get(slow)].map((p) => p.then(() => 'fetched', (e: Error) => e.message));
    await waitFor(() => docs.hits('/slow.json') === 1, 10_000, 'the slow fetch reached the server');
    const other = docs.serve('/other.json', (u) => ({ client_id: u, redirect_uris: [REDIRECT] }));
    await assert.rejects(resolver.get(other), /other documents are being fetched/);
    assert.equal(docs.hits('/other.json'), 0);
    hold!.destroy();
    for (const outcome of await Promise.all(pending)) assert.match(outcome, /could not be fetched: socket hang up/);
    assert.equal(docs.hits('/slow.json'), 1, 'one fetch for both callers');
    assert.equal((await resolver.get(other)).client_id, other, 'the slot is free again');
  });
});
