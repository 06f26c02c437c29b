import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { treeRss } from '../../server/supervision/process-tree.ts';
import { Supervisor } from '../../server/supervision/supervisor.ts';
import { ROOT, waitFor } from '../helpers/harbor.ts';

test('a launch hook starts forked children in place of child_process.fork (the packaged app uses utilityProcess)', async () => {
  const launched: string[] = [];
  const supervisor = new Supervisor({
    name: 'ipc-ready',
    command: join(ROOT, 'test/fixtures/supervised/ipc-ready.mjs'),
    fork: true,
    ready: 'ipc',
    launch: (modulePath, args, options) => {
      launched.push(modulePath);
      return fork(modulePath, args, { env: options.env, execArgv: options.execArgv, stdio: ['pipe', 'pipe', 'pipe', 'ipc'], detached: true });
    },
  });
  try {
    const online = new Promise<void>((resolve) => supervisor.on('state', (e) => e.to === 'online' && resolve()));
    supervisor.start();
    await online;
    assert.deepEqual(launched, [join(ROOT, 'test/fixtures/supervised/ipc-ready.mjs')]);
  } finally {
    await supervisor.dispose();
  }
});

test('memory: the whole tree counts by default; includeDescendants false counts the child alone (the host child)', async () => {
  // A small parent whose own child holds 120 MB.
  const parent = `require('child_process').spawn(process.execPath, ['-e', 'const b = Buffer.alloc(120 * 1024 * 1024, 1); setInterval(() => b[0]++, 100)'], { stdio: 'ignore' }); setInterval(() => {}, 1000)`;
  const limitBytes = 100 * 1024 * 1024;
  const run = async (includeDescendants: boolean) => {
    const supervisor = new Supervisor({
      name: 'parent',
      command: process.execPath,
      args: ['-e', parent],
      memory: { limitBytes, sampleMs: 100, includeDescendants },
    });
    const restarts: number[] = [];
    let samples = 0;
    supervisor.on('state', (e) => e.rssBytes !== undefined && restarts.push(e.rssBytes));
    supervisor.on('memory', () => samples++);
    supervisor.start();
    try {
      // Counted from when the tree really holds the child's 120 MB (measured here), not from a guessed
      // delay: a slow start on a loaded machine used to leave too few samples before a 4 s deadline.
      await waitFor(async () => supervisor.pid !== null && (await treeRss(supervisor.pid, true)).rssBytes > limitBytes, 30_000, 'the tree to hold 120 MB');
      // Then four more samples: the one maybe under way, and the three in a row the watchdog asks for.
      const seen = samples;
      await waitFor(() => restarts.length > 0 || samples >= seen + 4, 30_000, 'four more memory samples');
      return restarts.length;
    } finally {
      await supervisor.dispose();
    }
  };
  assert.ok((await run(true)) >= 1, 'the tree is over the limit');
  assert.equal(await run(false), 0, 'the parent alone is not');
});
