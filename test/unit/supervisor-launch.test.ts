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
