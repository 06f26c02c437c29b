import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { claimAppHome } from '../../main/core/app-home.ts';
import { controllerSettings } from '../../main/core/controller-options.ts';
import { HttpHostApi } from '../../renderer/host-api.ts';
import { tempHome } from '../helpers/harbor.ts';
import { spawnServe } from '../helpers/harbor-cli.ts';

/**
 * The tray app beside a running `harbor serve` in the same home, without Electron: the app's claim
 * (main/core/app-home.ts) attaches to it through the admin API, touches none of its files, and owns the
 * home once serve has stopped.
 */
test('the app attaches to the harbor serve of its home and owns the home after it stops', async () => {
  const { home, cleanup } = tempHome();
  const env = { ...process.env, HARBOR_HOME: home };
  const served = spawnServe(env);
  const { child: serve, exited } = served;
  try {
    const url = await served.url;
    // The app resolves the same home from the same environment.
    assert.equal(controllerSettings({ env }).paths.home, home);
    const files = ['admin.secret', 'host.json', 'harbor.lock', 'controller.json'].map((f) => readFileSync(join(home, f), 'utf8'));
    const claim = claimAppHome(home);
    assert.equal(claim.mode, 'attached');
    if (claim.mode !== 'attached') return;
    assert.equal(claim.url, url);
    assert.equal(claim.owner.pid, serve.pid);
    const status = await new HttpHostApi({ baseUrl: claim.url, secret: claim.secret }).status();
    assert.ok(status.servers.some((s) => s.name === 'docs'));
    assert.deepEqual(['admin.secret', 'host.json', 'harbor.lock', 'controller.json'].map((f) => readFileSync(join(home, f), 'utf8')), files);

    serve.kill('SIGTERM');
    await exited;
    const after = claimAppHome(home);
    assert.equal(after.mode, 'own');
    if (after.mode === 'own') after.lock.release();
  } finally {
    if (serve.exitCode === null && serve.signalCode === null) {
      serve.kill('SIGKILL');
      await exited;
    }
    cleanup();
  }
});
