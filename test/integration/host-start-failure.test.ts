/**
 * A host whose start fails half-way (its port taken: listen throws after every part opened) closes
 * what it opened, last first: no file of its home left open, no timer or handle keeping the process
 * alive, and the caller gets listen's own error (host-main.ts words EADDRINUSE from its code).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { ROOT, tempHome } from '../helpers/harbor.ts';

test('a start failing at listen (port taken) closes the database, caches and docs index it opened, and leaves nothing running', async () => {
  const a = tempHome();
  const b = tempHome();
  try {
    const child = spawn(process.execPath, [`${ROOT}/test/fixtures/start-on-taken-port.ts`, a.home, b.home], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    // Bounded: a timer or socket left behind keeps the child alive past the deadline.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code, signal] = (await new Promise((resolve) => child.on('exit', (...args) => resolve(args)))) as [number | null, string | null];
    clearTimeout(deadline);
    assert.equal(signal, null, `the child did not exit by itself: something was left running\n${stdout}\n${stderr}`);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout.trim()) as { openWhileRunning: string[]; failure: { code?: string; message: string } | null; openAfterFailure: string[]; openAfterClose: string[] };
    // The check sees open files: a running host holds its database, cache and docs index.
    for (const file of ['harbor.db', 'cache.db', 'docs-index.db']) assert.ok(report.openWhileRunning.includes(file), `${file} open while running: ${report.openWhileRunning.join(', ')}`);
    assert.equal(report.failure?.code, 'EADDRINUSE', JSON.stringify(report.failure));
    assert.deepEqual(report.openAfterFailure, [], 'nothing of the failed host left open');
    assert.deepEqual(report.openAfterClose, [], 'nothing of the closed host left open');
  } finally {
    a.cleanup();
    b.cleanup();
  }
});
