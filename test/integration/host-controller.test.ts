import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HostController } from '../../main/core/host-controller.ts';
import { onWakeFromSleep } from '../../main/core/sleep-detector.ts';
import type { ShareState } from '../../server/host.ts';
import { silentLogger } from '../../server/logger.ts';
import { descendantsIn, isAlive, readProcessTable } from '../../server/supervision/process-tree.ts';
import { ROOT, tempHome, waitFor } from '../helpers/harbor.ts';

const STANDIN = join(ROOT, 'test/fixtures/cloudflared-standin/cloudflared');

test('HostController (what the app main process runs): start, share, health over the admin API, clean quit', async () => {
  const { home, cleanup } = tempHome();
  const controller = new HostController({ home, port: 0, logger: silentLogger, tunnel: { binaryPath: STANDIN, readyTimeoutMs: 15_000 } });
  const shareEvents: ShareState[] = [];
  controller.on('share', (state) => shareEvents.push(state));
  try {
    const ready = await controller.start();
    assert.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(ready.servers, ['docs']);
    const admin = (path: string, init: RequestInit = {}) =>
      fetch(`${ready.url}${path}`, { ...init, headers: { 'x-harbor-admin-secret': controller.adminSecret, 'Content-Type': 'application/json' } });

    const status = (await (await admin('/admin/status')).json()) as { health: { state: string } };
    assert.equal(status.health.state, 'green');

    // Share through the admin API: the host relays to the controller, which runs cloudflared.
    const shared = (await (await admin('/admin/share', { method: 'POST', body: JSON.stringify({ mode: 'quick' }) })).json()) as ShareState;
    assert.equal(shared.state, 'online');
    assert.match(shared.publicUrl ?? '', /trycloudflare\.com$/);
    assert.ok(shareEvents.some((e) => e.state === 'online'));
    const tunnelPid = controller.share.tunnel!.pid!;
    assert.ok(isAlive(tunnelPid));

    // Quit: every process the controller started is gone.
    const tree = [...descendantsIn(await readProcessTable(), process.pid)].filter((pid) => pid === tunnelPid || pid === controller.supervisor!.pid);
    assert.equal(tree.length, 2);
    await controller.stop();
    await waitFor(() => tree.every((pid) => !isAlive(pid)) || null, 10_000, 'host and cloudflared to end');
  } finally {
    await controller.stop().catch(() => {});
    cleanup();
  }
});

test('a wake from sleep is noticed when timers fire far too late', async () => {
  const woke: number[] = [];
  const stop = onWakeFromSleep((ms) => woke.push(ms), { intervalMs: 20, thresholdMs: 150 });
  try {
    await new Promise((r) => setTimeout(r, 60));
    // A frozen process (a laptop asleep) looks like a blocked event loop to its timers.
    const until = Date.now() + 400;
    while (Date.now() < until) {
      /* blocked */
    }
    await waitFor(() => woke.length > 0 || null, 2000, 'the wake callback');
    assert.ok(woke[0]! >= 150);
  } finally {
    stop();
  }
});

test("the host child is sized for a small gateway: 2 MB semi-spaces, the old generation capped at its memory limit, two malloc arenas", { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const { home, cleanup } = tempHome();
  const controller = new HostController({ home, port: 0, logger: silentLogger, memoryLimitBytes: 300 * 1024 * 1024 });
  try {
    await controller.start();
    const argv = readFileSync(`/proc/${controller.supervisor!.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.includes('--max-semi-space-size=2'), argv.join(' '));
    assert.ok(argv.includes('--max-old-space-size=300'), argv.join(' '));
    const env = readFileSync(`/proc/${controller.supervisor!.pid}/environ`, 'utf8').split('\0');
    assert.ok(env.includes(`MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '2'}`), 'MALLOC_ARENA_MAX in the host child');
  } finally {
    await controller.stop();
    cleanup();
  }
});
