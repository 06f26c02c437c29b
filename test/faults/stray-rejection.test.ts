import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, waitFor } from '../helpers/harbor.ts';
import { startHostProcess } from '../helpers/host-process.ts';

test('an unhandled rejection in the host is logged and the host carries on (same pid, still answering)', async () => {
  const host = await startHostProcess({ docs: { folder: 'docs' } }, { execArgv: ['--import', join(ROOT, 'test/faults/fixtures/stray-rejection.ts')] });
  try {
    let exited: number | null = null;
    host.child.once('exit', (code) => (exited = code ?? -1));
    const said = new Promise<void>((resolve) => host.child.on('message', (m: { type?: string }) => m?.type === 'test-stray-rejected' && resolve()));
    host.child.send({ type: 'test-stray-rejection' });
    await Promise.race([said, waitFor(() => exited !== null, 20_000, 'the fixture to answer or the host to exit')]);
    assert.equal(exited, null, `the host exited: ${host.stderr().slice(-2000)}`);
    await waitFor(() => /unhandled rejection/.test(host.stderr()), 10_000, 'the rejection in the log');
    assert.match(host.stderr(), /a stray rejection from the test/);
    const health = await fetch(`${host.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(host.child.pid, host.pid);
  } finally {
    await host.stop();
  }
});
