import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  CloudflaredNotFoundError,
  cloudflaredExecutableName,
  cloudflaredResourceDir,
  findCloudflared,
} from '../../main/core/tunnel/cloudflared-binary.ts';

const root = mkdtempSync(join(tmpdir(), 'harbor-cfbin-'));
after(() => rmSync(root, { recursive: true, force: true }));

function executable(path: string, mode = 0o755): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, mode);
  return path;
}

const empty = join(root, 'empty');
mkdirSync(empty);
// No PATH, and an npm search that starts in an empty tree, unless a test says otherwise.
const base = { env: { PATH: '' }, searchFrom: [empty], platform: 'linux' as const, arch: 'x64' };

test('resource folder uses Node platform-arch names', () => {
  assert.equal(cloudflaredResourceDir('darwin', 'arm64'), join('cloudflared', 'darwin-arm64'));
  assert.equal(cloudflaredExecutableName('win32'), 'cloudflared.exe');
  assert.equal(cloudflaredExecutableName('linux'), 'cloudflared');
});

test('HARBOR_CLOUDFLARED wins over everything else', () => {
  const chosen = executable(join(root, 'override', 'cloudflared'));
  const resources = join(root, 'res1');
  executable(join(resources, 'cloudflared', 'linux-x64', 'cloudflared'));
  assert.equal(findCloudflared({ ...base, resourcesPath: resources, env: { PATH: '', HARBOR_CLOUDFLARED: chosen } }), chosen);
});

test('a HARBOR_CLOUDFLARED that names nothing is an error, not a silent fallback', () => {
  const onPath = join(root, 'bin-fallback');
  executable(join(onPath, 'cloudflared'));
  assert.throws(
    () => findCloudflared({ ...base, env: { PATH: onPath, HARBOR_CLOUDFLARED: join(root, 'missing') } }),
    (error: unknown) => error instanceof CloudflaredNotFoundError && error.message === `cloudflared not found: HARBOR_CLOUDFLARED=${join(root, 'missing')} names no executable file`,
  );
});

test('packaged resources before PATH', () => {
  const resources = join(root, 'res2');
  const packaged = executable(join(resources, 'cloudflared', 'linux-x64', 'cloudflared'));
  const onPath = join(root, 'bin2');
  executable(join(onPath, 'cloudflared'));
  assert.equal(findCloudflared({ ...base, resourcesPath: resources, env: { PATH: onPath } }), packaged);
});

test('PATH, skipping files that are not executable', () => {
  const notExec = join(root, 'bin3a');
  executable(join(notExec, 'cloudflared'), 0o644);
  const good = join(root, 'bin3b');
  const expected = executable(join(good, 'cloudflared'));
  assert.equal(findCloudflared({ ...base, env: { PATH: [notExec, good].join(':') } }), expected);
});

test('the cloudflared npm package in an ancestor node_modules', () => {
  const project = join(root, 'project');
  const expected = executable(join(project, 'node_modules', 'cloudflared', 'bin', 'cloudflared'));
  const deep = join(project, 'main', 'core');
  mkdirSync(deep, { recursive: true });
  assert.equal(findCloudflared({ ...base, searchFrom: [deep] }), expected);
});

test('nothing found: a typed error naming every place and how to install', () => {
  const resources = join(root, 'res-empty');
  const pathDir = join(root, 'bin-empty');
  assert.throws(
    () => findCloudflared({ ...base, resourcesPath: resources, env: { PATH: pathDir } }),
    (error: unknown) => {
      assert.ok(error instanceof CloudflaredNotFoundError);
      assert.equal(error.code, 'CLOUDFLARED_NOT_FOUND');
      assert.equal(error.searched[0], join(resources, 'cloudflared', 'linux-x64', 'cloudflared'));
      assert.equal(error.searched[1], join(pathDir, 'cloudflared'));
      assert.ok(error.searched.includes(join(empty, 'node_modules', 'cloudflared', 'bin', 'cloudflared')));
      // One line to act on; the places are listed apart (harbor share --verbose).
      assert.equal(error.message, 'cloudflared not found: install it from https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/, or set HARBOR_CLOUDFLARED=/path/to/cloudflared');
      return true;
    },
  );
});

test('each place is searched and listed once, however often PATH names it; the hint fits the platform', () => {
  const pathDir = join(root, 'bin-twice');
  assert.throws(
    () => findCloudflared({ ...base, platform: 'darwin', env: { PATH: [pathDir, pathDir, `${pathDir}/`].join(':') } }),
    (error: unknown) => {
      assert.ok(error instanceof CloudflaredNotFoundError);
      assert.equal(error.searched.filter((p) => p === join(pathDir, 'cloudflared')).length, 1);
      assert.equal(new Set(error.searched).size, error.searched.length);
      assert.match(error.message, /^cloudflared not found: brew install cloudflared, or set HARBOR_CLOUDFLARED=/);
      assert.ok(!error.message.includes('\n'));
      return true;
    },
  );
  assert.throws(() => findCloudflared({ ...base, platform: 'win32', env: { Path: pathDir } }), /winget install --id Cloudflare\.cloudflared/);
});

test('Windows looks for cloudflared.exe through PATHEXT', () => {
  const pathDir = join(root, 'winbin');
  const expected = executable(join(pathDir, 'cloudflared.exe'));
  assert.equal(findCloudflared({ ...base, platform: 'win32', env: { Path: pathDir, PATHEXT: '.COM;.EXE' } }), expected);
});
