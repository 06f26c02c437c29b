import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { claimAppHome, appHomeNote } from '../../main/core/app-home.ts';
import { controllerSettings } from '../../main/core/controller-options.ts';
import { acquireHomeLock } from '../../main/core/home-lock.ts';
import { writeAdminSecret } from '../../server/admin/admin-secret.ts';
import { writeHostRuntime } from '../../server/admin/runtime-file.ts';
import { harborHome } from '../../server/harbor-home.ts';
import { tempHome } from '../helpers/harbor.ts';

describe('one home for the app and the CLI', () => {
  it('chooses the platform config dir + /harbor on each platform, $HARBOR_HOME first', () => {
    const user = '/home/ana';
    assert.equal(harborHome({}, { platform: 'linux', homedir: user }), join(user, '.config', 'harbor'));
    assert.equal(harborHome({ XDG_CONFIG_HOME: '/cfg' }, { platform: 'linux', homedir: user }), join('/cfg', 'harbor'));
    assert.equal(harborHome({}, { platform: 'darwin', homedir: user }), join(user, 'Library', 'Application Support', 'harbor'));
    assert.equal(harborHome({ APPDATA: 'C:/Users/ana/AppData/Roaming' }, { platform: 'win32', homedir: 'C:/Users/ana' }), join('C:/Users/ana/AppData/Roaming', 'harbor'));
    assert.equal(harborHome({}, { platform: 'win32', homedir: 'C:/Users/ana' }), join('C:/Users/ana', 'AppData', 'Roaming', 'harbor'));
    // The variable wins everywhere, whatever the platform's own place.
    for (const platform of ['linux', 'darwin', 'win32'] as const) assert.equal(harborHome({ HARBOR_HOME: '/srv/h', XDG_CONFIG_HOME: '/cfg' }, { platform, homedir: user }), '/srv/h');
  });
});

describe('controllerSettings: the options both faces start the controller with', () => {
  it('creates the home and reads hostMemoryLimitMb and the tunnel timeout', () => {
    const { home, cleanup } = tempHome();
    try {
      const nested = join(home, 'fresh');
      let settings = controllerSettings({ env: { HARBOR_HOME: nested } });
      assert.ok(existsSync(join(nested, 'logs')), 'home and logs created');
      assert.equal(settings.paths.config, join(nested, 'config.json'));
      assert.deepEqual(settings.controller, { home: nested, configFile: undefined, port: undefined });

      writeFileSync(join(nested, 'config.json'), JSON.stringify({ hostMemoryLimitMb: 300, mcpServers: {} }));
      settings = controllerSettings({ env: { HARBOR_HOME: nested, HARBOR_TUNNEL_TIMEOUT_SECONDS: '7' } });
      assert.equal(settings.controller.memoryLimitBytes, 300 * 1024 * 1024);
      assert.deepEqual(settings.controller.tunnel, { readyTimeoutMs: 7000 });
    } finally {
      cleanup();
    }
  });

  it('reads the limit from --config when given, and ignores a file it cannot use (the host reports it)', () => {
    const { home, cleanup } = tempHome();
    try {
      const other = join(home, 'team.json');
      writeFileSync(other, JSON.stringify({ hostMemoryLimitMb: 900 }));
      writeFileSync(join(home, 'config.json'), JSON.stringify({ hostMemoryLimitMb: 100 }));
      const settings = controllerSettings({ env: { HARBOR_HOME: home }, configFile: other, port: 0 });
      assert.equal(settings.controller.memoryLimitBytes, 900 * 1024 * 1024);
      assert.equal(settings.controller.configFile, other);
      assert.equal(settings.controller.port, 0);

      for (const text of ['{ not json', JSON.stringify({ hostMemoryLimitMb: -5 }), JSON.stringify({ hostMemoryLimitMb: '512' })]) {
        writeFileSync(join(home, 'config.json'), text);
        assert.equal(controllerSettings({ env: { HARBOR_HOME: home, HARBOR_TUNNEL_TIMEOUT_SECONDS: 'soon' } }).controller.memoryLimitBytes, undefined, text);
      }
      assert.equal(controllerSettings({ env: { HARBOR_HOME: home, HARBOR_TUNNEL_TIMEOUT_SECONDS: 'soon' } }).controller.tunnel, undefined);
    } finally {
      cleanup();
    }
  });
});

describe('claimAppHome: the tray app owns the home or attaches to the harbor serve there', () => {
  it('owns a free home, and releasing the lock frees it again', () => {
    const { home, cleanup } = tempHome();
    try {
      const claim = claimAppHome(home);
      assert.equal(claim.mode, 'own');
      assert.equal(appHomeNote(claim), null);
      if (claim.mode === 'own') claim.lock.release();
      assert.equal(claimAppHome(home).mode, 'own');
    } finally {
      cleanup();
    }
  });

  it('attaches to a live holder that has written its URL and secret; waits on one that has not', () => {
    const { home, cleanup } = tempHome();
    try {
      mkdirSync(home, { recursive: true });
      // Another live process (this test's parent) holds the lock, as a running `harbor serve` would.
      const held = acquireHomeLock(home, { pid: process.ppid });
      const busy = claimAppHome(home);
      assert.equal(busy.mode, 'busy');
      assert.match(appHomeNote(busy)!, new RegExp(`pid ${process.ppid}`));

      const secret = writeAdminSecret(home);
      writeHostRuntime(home, { url: 'http://127.0.0.1:4567', port: 4567, pid: process.ppid, startedAt: Date.now() });
      const attached = claimAppHome(home);
      assert.deepEqual(attached.mode === 'attached' && { url: attached.url, secret: attached.secret, pid: attached.owner.pid }, { url: 'http://127.0.0.1:4567', secret, pid: process.ppid });
      assert.match(appHomeNote(attached)!, /Attached to harbor serve .* leaves it running/);
      held.release();
    } finally {
      cleanup();
    }
  });
});
