/** The /app asset server: what it serves, with which headers, and what it refuses. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { APP_CSP, appAssetFile, serveAppAsset } from '../../server/http/app-assets.ts';

let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    void serveAppAsset(req, res, path).then((served) => {
      if (!served) {
        res.writeHead(418);
        res.end('not mine');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function get(path: string, init: RequestInit = {}) {
  const res = await fetch(base + path, { redirect: 'manual', ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

test('index, stripped TypeScript, CSS and the vendored chart library, each with its type and the CSP', async () => {
  const index = await get('/app/');
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type')!, /^text\/html/);
  assert.equal(index.headers.get('content-security-policy'), APP_CSP);
  assert.equal(index.headers.get('x-content-type-options'), 'nosniff');

  const module = await get('/app/host-api.ts');
  assert.match(module.headers.get('content-type')!, /^text\/javascript/);
  assert.match(module.text, /export class HttpHostApi/);
  assert.doesNotMatch(module.text, /export interface|: Promise<HostStatus>/);

  assert.match((await get('/app/styles.css')).headers.get('content-type')!, /^text\/css/);
  const uplot = await get('/app/vendor/uplot.js');
  assert.equal(uplot.status, 200);
  assert.match(uplot.text, /export \{ uPlot as default \}|export default/);
});

test('/app redirects to /app/, other paths are not its business', async () => {
  const res = await get('/app');
  assert.equal(res.status, 308);
  assert.equal(res.headers.get('location'), '/app/');
  assert.equal((await get('/admin/status')).status, 418);
  assert.equal((await get('/apple')).status, 418);
});

test('nothing outside the renderer folder and the vendor list is served', async () => {
  for (const path of ['/app/../package.json', '/app/%2e%2e/package.json', '/app/..%2fserver/host.ts', '/app/tsconfig.json', '/app/vendor/../../package.json', '/app/vendor/other.js', '/app/nope.ts', '/app/%00.ts']) {
    const res = await get(path);
    // fetch resolves a literal `..` before sending: that request is then simply not an /app path (418 here).
    assert.ok(res.status === 404 || res.status === 418, `${path}: ${res.status}`);
    assert.doesNotMatch(res.text, /mcp-harbor|startHost/, path);
  }
  assert.equal(appAssetFile('/app/%E0%A4%A'), null, 'malformed escapes');
  assert.equal(appAssetFile('/app/../package.json'), null, 'a raw `..` path');
  assert.equal(appAssetFile('/app/sections/../../server/host.ts'), null);
  assert.equal((await get('/app/', { method: 'POST' })).status, 405);
});

test('serving a .ts module prints no ExperimentalWarning, and other warnings still pass', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const assets = new URL('../../server/http/app-assets.ts', import.meta.url).href;
  const script = `const { loadAppAsset } = await import(${JSON.stringify(assets)});
const asset = await loadAppAsset('/app/charts.ts');
if (asset.status !== 200) process.exit(1);
process.stdout.write(String(asset.body.length));
process.emitWarning('still here', 'ExperimentalWarning');`;
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
  assert.ok(Number(stdout) > 0);
  assert.doesNotMatch(stderr, /stripTypeScriptTypes/);
  assert.match(stderr, /ExperimentalWarning: still here/);
});
