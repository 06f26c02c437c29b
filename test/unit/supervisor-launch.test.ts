import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { Supervisor } from '../../server/supervision/supervisor.ts';
import { ROOT } from '../helpers/harbor.ts';

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
  const run = async (includeDescendants: boolean) => {
    const supervisor = new Supervisor({
      name: 'parent',
      command: process.execPath,
      args: ['-e', parent],
      memory: { limitBytes: 100 * 1024 * 1024, sampleMs: 100, includeDescendants },
    });
    const restarts: number[] = [];
    supervisor.on('state', (e) => e.rssBytes !== undefined && restarts.push(e.rssBytes));
    supervisor.start();
    // Bounded: 40 samples' worth.
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline && restarts.length === 0) await new Promise((r) => setTimeout(r, 100));
    await supervisor.dispose();
    return restarts.length;
  };
  assert.ok((await run(true)) >= 1, 'the tree is over the limit');
  assert.equal(await run(false), 0, 'the parent alone is not');
});
