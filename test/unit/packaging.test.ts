/**
 * electron-builder.yml: valid against electron-builder's own JSON schema, and every path it names
 * exists in the repository or is produced by a script (`build` → dist/, fetch-cloudflared → resources/cloudflared).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { cloudflaredExecutableName, cloudflaredResourceDir } from '../../main/core/tunnel/cloudflared-binary.ts';
import { ASSETS, targetName } from '../../scripts/fetch-cloudflared.ts';
import { ROOT } from '../helpers/harbor.ts';

interface FileSet { from: string; to: string; filter?: string[] }
interface TargetConfig { target: string; arch: string[] }
interface PlatformConfig { target: TargetConfig[]; extraResources?: FileSet[]; icon?: string; entitlements?: string; entitlementsInherit?: string }
interface BuilderConfig {
  appId: string;
  productName: string;
  files: string[];
  asarUnpack: string[];
  extraResources?: FileSet[];
  electronFuses: Record<string, boolean>;
  mac: PlatformConfig & { hardenedRuntime: boolean; notarize: boolean; extendInfo: Record<string, unknown> };
  win: PlatformConfig;
  linux: PlatformConfig;
}

const config = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as BuilderConfig;
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main?: string; scripts: Record<string, string> };
const NODE_PLATFORM = { mac: 'darwin', win: 'win32', linux: 'linux' } as const;

/** The folder a glob starts from: everything before the first wildcard. */
function globBase(pattern: string): string {
  const parts = pattern.split('/');
  const index = parts.findIndex((p) => /[*?{[]/.test(p));
  return parts.slice(0, index === -1 ? parts.length : index).join('/');
}

test('electron-builder.yml is valid against electron-builder\'s JSON schema', () => {
  const require = createRequire(import.meta.url);
  const schemaFile = join(dirname(require.resolve('app-builder-lib/package.json')), 'scheme.json');
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as object;
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  const ok = validate(config);
  assert.ok(ok, JSON.stringify(validate.errors, null, 2));
  // And a typo'd key is caught, so the check above means something.
  assert.equal(validate({ ...config, mac: { ...config.mac, hardendRuntime: true } }), false);
});

test('identity, a menu-bar-only Mac app, hardened runtime, notarization and the fuses', () => {
  assert.equal(config.productName, 'Harbor');
  assert.match(config.appId, /^[a-z0-9.-]+$/);
  assert.equal(config.mac.extendInfo.LSUIElement, true);
  assert.equal(config.mac.hardenedRuntime, true);
  assert.equal(config.mac.notarize, true);
  assert.deepEqual(
    { ...config.electronFuses },
    {
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
    },
  );
  assert.deepEqual(config.mac.target.map((t) => t.target), ['dmg']);
  assert.deepEqual(config.win.target.map((t) => t.target), ['nsis']);
  assert.deepEqual(config.linux.target.map((t) => t.target), ['AppImage']);
});

test('every packaged file pattern starts from a folder that exists or a script makes', () => {
  const producedBy: Record<string, string> = { dist: 'build' };
  for (const pattern of config.files.filter((p) => !p.startsWith('!'))) {
    const base = globBase(pattern);
    if (base in producedBy) {
      assert.match(packageJson.scripts[producedBy[base]!] ?? '', /tsc/, `${pattern}: made by npm run ${producedBy[base]}`);
      continue;
    }
    assert.ok(existsSync(join(ROOT, base)), `${pattern}: ${base} is missing`);
  }
  // The renderer entry and what it loads at runtime.
  for (const file of ['renderer/index.html', 'renderer/main.ts', 'node_modules/uplot/dist/uPlot.esm.js']) assert.ok(existsSync(join(ROOT, file)), file);
});

test('asarUnpack names the native modules, which are installed', () => {
  assert.ok(config.asarUnpack.includes('node_modules/better-sqlite3/**'));
  assert.ok(existsSync(join(ROOT, 'node_modules/better-sqlite3/package.json')));
  const keyring = readdirSync(join(ROOT, 'node_modules/@napi-rs')).filter((name) => name.startsWith('keyring'));
  assert.ok(keyring.length > 0, 'node_modules/@napi-rs/keyring* is installed');
  for (const pattern of config.asarUnpack.filter((p) => p.startsWith('node_modules/'))) {
    const base = globBase(pattern.replace(/[^/]*\*[^/]*\/\*\*$/, '**'));
    assert.ok(existsSync(join(ROOT, base)), `${pattern}: ${base}`);
  }
});

test('every platform/arch built gets the cloudflared that fetch-cloudflared pins, where the app looks', () => {
  assert.equal(config.extraResources, undefined, 'cloudflared is configured per platform');
  const fetched = new Set(ASSETS.map(targetName));
  for (const os of ['mac', 'win', 'linux'] as const) {
    const platform = NODE_PLATFORM[os];
    const sets = config[os].extraResources ?? [];
    assert.equal(sets.length, 1, `${os}: one extraResources entry`);
    const set = sets[0]!;
    for (const arch of config[os].target.flatMap((t) => t.arch)) {
      const expand = (path: string) => path.replaceAll('${arch}', arch);
      assert.equal(expand(set.from), `resources/${cloudflaredResourceDir(platform, arch)}`, `${os} ${arch}: from`);
      assert.equal(expand(set.to), cloudflaredResourceDir(platform, arch), `${os} ${arch}: to`);
      assert.ok(fetched.has(`${platform}-${arch}`), `${platform}-${arch} is produced by npm run fetch-cloudflared`);
      assert.deepEqual(set.filter, [cloudflaredExecutableName(platform)]);
    }
  }
  assert.ok(existsSync(join(ROOT, 'scripts/fetch-cloudflared.ts')));
});

test('icons and entitlements exist; the tray has all three states at 1x and 2x', () => {
  for (const os of ['mac', 'win', 'linux'] as const) assert.ok(existsSync(join(ROOT, config[os].icon!)), `${os} icon`);
  assert.ok(existsSync(join(ROOT, config.mac.entitlements!)));
  assert.ok(existsSync(join(ROOT, config.mac.entitlementsInherit!)));
  const plist = readFileSync(join(ROOT, config.mac.entitlements!), 'utf8');
  assert.match(plist, /com\.apple\.security\.cs\.allow-jit/);
  for (const state of ['green', 'amber', 'red']) {
    for (const variant of ['', 'Template']) {
      for (const scale of ['', '@2x']) {
        const file = join(ROOT, `resources/icons/tray-${state}${variant}${scale}.png`);
        assert.ok(existsSync(file), file);
        assert.equal(readFileSync(file).subarray(1, 4).toString(), 'PNG');
      }
    }
  }
});

test('package.json main names the built Electron entry', (t) => {
  if (packageJson.main === undefined) {
    t.skip('package.json has no "main" yet: it must be "dist/main/shell/main.js" for electron-builder and `npm start`');
    return;
  }
  assert.equal(packageJson.main, 'dist/main/shell/main.js');
});
