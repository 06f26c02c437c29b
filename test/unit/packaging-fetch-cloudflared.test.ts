/**
 * scripts/fetch-cloudflared.ts against a local stand-in for GitHub releases (127.0.0.1): verified
 * downloads land where cloudflaredResourceDir() looks, a checksum mismatch writes nothing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cloudflaredExecutableName, cloudflaredResourceDir } from '../../main/core/tunnel/cloudflared-binary.ts';
import {
  ASSETS,
  ChecksumMismatchError,
  defaultTargets,
  extractFromTarGz,
  fetchCloudflared,
  httpDownload,
  targetName,
  type CloudflaredAsset,
} from '../../scripts/fetch-cloudflared.ts';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const FAKE_LINUX = Buffer.from('#!/bin/sh\necho fake cloudflared\n');

let server: Server;
let base: string;
let work: string;
let tgz: Buffer;
const requests: string[] = [];

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'harbor-fetch-cf-'));
  // A real .tgz holding `cloudflared`, made by the system tar, like the release's macOS asset.
  const staging = join(work, 'staging');
  mkdirSync(staging);
  writeFileSync(join(staging, 'cloudflared'), 'fake mac cloudflared\n');
  execFileSync('tar', ['-czf', join(work, 'mac.tgz'), '-C', staging, 'cloudflared']);
  tgz = readFileSync(join(work, 'mac.tgz'));
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/download/v1/cloudflared-linux-amd64') {
      // GitHub answers release downloads with a redirect to its object store.
      res.writeHead(302, { Location: '/objects/linux-amd64' });
      res.end();
    } else if (req.url === '/objects/linux-amd64') res.end(FAKE_LINUX);
    else if (req.url === '/download/v1/cloudflared-darwin-arm64.tgz') res.end(tgz);
    else if (req.url === '/big') {
      res.writeHead(200, { 'Content-Length': String(4096) });
      res.end(Buffer.alloc(4096));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/download`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(work, { recursive: true, force: true });
});

function assets(overrides: Partial<Record<string, string>> = {}): CloudflaredAsset[] {
  return [
    { platform: 'linux', arch: 'x64', file: 'cloudflared-linux-amd64', sha256: overrides['linux-x64'] ?? sha(FAKE_LINUX) },
    { platform: 'darwin', arch: 'arm64', file: 'cloudflared-darwin-arm64.tgz', sha256: overrides['darwin-arm64'] ?? sha(tgz) },
  ];
}

test('verified downloads are installed where the app looks for them, executable', async () => {
  const resourcesDir = join(work, 'ok');
  const installed = await fetchCloudflared({ resourcesDir, baseUrl: base, version: 'v1', assets: assets(), log: () => {} });
  const linux = join(resourcesDir, cloudflaredResourceDir('linux', 'x64'), cloudflaredExecutableName('linux'));
  const mac = join(resourcesDir, cloudflaredResourceDir('darwin', 'arm64'), cloudflaredExecutableName('darwin'));
  assert.deepEqual(installed, [linux, mac]);
  assert.deepEqual(readFileSync(linux), FAKE_LINUX);
  assert.equal(readFileSync(mac, 'utf8'), 'fake mac cloudflared\n');
  assert.equal(statSync(linux).mode & 0o111, 0o111);

  // A second run finds them verified and downloads nothing.
  const before = requests.length;
  await fetchCloudflared({ resourcesDir, baseUrl: base, version: 'v1', assets: assets(), log: () => {} });
  assert.equal(requests.length, before);
});

test('a checksum mismatch fails and writes nothing', async () => {
  const resourcesDir = join(work, 'bad');
  await assert.rejects(
    fetchCloudflared({ resourcesDir, baseUrl: base, version: 'v1', assets: assets({ 'linux-x64': 'f'.repeat(64) }), targets: ['linux-x64'], log: () => {} }),
    (error: unknown) => error instanceof ChecksumMismatchError && /does not match the pinned f{64}/.test(error.message),
  );
  assert.equal(existsSync(join(resourcesDir, 'cloudflared')), false);
});

test('unknown targets, HTTP errors and oversized bodies are refused', async () => {
  await assert.rejects(fetchCloudflared({ resourcesDir: join(work, 'x'), targets: ['plan9-mips'], download: async () => Buffer.alloc(0) }), /no cloudflared asset for plan9-mips/);
  await assert.rejects(httpDownload(`${base}/v1/missing`), /HTTP 404/);
  await assert.rejects(httpDownload(`${base.replace('/download', '')}/big`, { maxBytes: 1024 }), /cap/);
});

test('the tar reader finds the binary and says when it is absent', () => {
  assert.equal(extractFromTarGz(tgz, 'cloudflared').toString(), 'fake mac cloudflared\n');
  assert.throws(() => extractFromTarGz(tgz, 'other'), /no other in the archive/);
});

test('the pinned release covers every target the installers ship, with well-formed checksums', () => {
  assert.deepEqual(ASSETS.map(targetName).sort(), ['darwin-arm64', 'darwin-x64', 'linux-arm64', 'linux-x64', 'win32-x64']);
  for (const asset of ASSETS) assert.match(asset.sha256, /^[0-9a-f]{64}$/, asset.file);
  assert.deepEqual(defaultTargets('darwin'), ['darwin-arm64', 'darwin-x64']);
});
