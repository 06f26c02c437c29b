import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { acquireHomeLock, HomeLockedError, LOCK_FILE, lockOwner } from '../../main/core/home-lock.ts';

const homes: string[] = [];
after(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});
function freshHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'harbor-lock-'));
  homes.push(home);
  return home;
}

/** A real child that takes the lock, says so on stdout, and waits to be killed. */
function holder(home: string) {
  const lockModule = new URL('../../main/core/home-lock.ts', import.meta.url).href;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', `const { acquireHomeLock } = await import(${JSON.stringify(lockModule)}); acquireHomeLock(${JSON.stringify(home)}); console.log('held'); setInterval(() => {}, 1000);`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const held = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('held') && resolve());
    child.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
  return { child, held };
}

describe('home lock', () => {
  it('refuses a second owner while the first process lives, naming its pid', async () => {
    const home = freshHome();
    const { child, held } = holder(home);
    try {
      await held;
      assert.throws(
        () => acquireHomeLock(home),
        (error: unknown) => error instanceof HomeLockedError && error.owner.pid === child.pid && error.message.includes(home),
      );
      assert.equal(lockOwner(home)?.pid, child.pid);
      // The refused attempt left the owner's file as it was.
      assert.equal(JSON.parse(readFileSync(join(home, LOCK_FILE), 'utf8')).pid, child.pid);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('dies with its process: a SIGKILLed owner leaves a stale lock the next one takes over', async () => {
    const home = freshHome();
    const { child, held } = holder(home);
    await held;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    assert.ok(existsSync(join(home, LOCK_FILE)), 'a killed holder cannot clean up');
    assert.equal(lockOwner(home), null);
    const lock = acquireHomeLock(home);
    assert.equal(lockOwner(home)?.pid, process.pid);
    lock.release();
    assert.ok(!existsSync(join(home, LOCK_FILE)));
  });

  it('takes over a half-written lock file', () => {
    const home = freshHome();
    writeFileSync(join(home, LOCK_FILE), '{"pi');
    const lock = acquireHomeLock(home);
    assert.equal(lockOwner(home)?.pid, process.pid);
    lock.release();
  });

  it('release leaves a lock that is no longer ours', () => {
    const home = freshHome();
    const lock = acquireHomeLock(home, { pid: 999_999_999 + 1, isAlive: () => false });
    writeFileSync(join(home, LOCK_FILE), JSON.stringify({ pid: process.pid, startedAt: 1 }));
    lock.release();
    assert.ok(existsSync(join(home, LOCK_FILE)));
  });
});
