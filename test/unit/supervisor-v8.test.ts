import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { runsHostInProcess } from '../../main/commands/supervisor-v8.ts';

const MODULE = new URL('../../main/commands/supervisor-v8.ts', import.meta.url).href;

/**
 * Whether a hot function ends up optimised (Maglev or Turbofan) in a fresh node, with or without
 * interpretOnly() first. %GetOptimizationStatus needs --allow-natives-syntax, so a child process.
 */
async function optimisedAfterWarmUp(callInterpretOnly: boolean): Promise<boolean> {
  const script = `
    const { interpretOnly } = await import(${JSON.stringify(MODULE)});
    if (${callInterpretOnly}) interpretOnly();
    function add(a, b) { return a + b; }
    %PrepareFunctionForOptimization(add);
    for (let i = 0; i < 1e5; i++) add(i, 1);
    %OptimizeMaglevOnNextCall(add);
    add(1, 2);
    for (let i = 0; i < 1e5; i++) add(i, 1);
    %OptimizeFunctionOnNextCall(add);
    add(1, 2);
    const kIsOptimized = 1 << 4, kMaglevved = 1 << 5, kTurboFanned = 1 << 6;
    process.stdout.write(String((%GetOptimizationStatus(add) & (kIsOptimized | kMaglevved | kTurboFanned)) !== 0));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { timeout: 30_000 });
  return stdout === 'true';
}

test('interpretOnly stops V8 from optimising code run after it; without it the same code is optimised', async () => {
  assert.equal(await optimisedAfterWarmUp(false), true);
  assert.equal(await optimisedAfterWarmUp(true), false);
});

test('only the container host keeps the compilers: serve --container or HARBOR_CONTAINER=1|true', () => {
  assert.equal(runsHostInProcess(['serve', '--port', '0'], {}), false);
  assert.equal(runsHostInProcess(['serve', '--container'], {}), true);
  assert.equal(runsHostInProcess(['serve'], { HARBOR_CONTAINER: '1' }), true);
  assert.equal(runsHostInProcess(['serve'], { HARBOR_CONTAINER: 'true' }), true);
  assert.equal(runsHostInProcess(['serve'], { HARBOR_CONTAINER: '0' }), false);
  assert.equal(runsHostInProcess(['token', 'add', 'x', '--container'], { HARBOR_CONTAINER: '1' }), false);
});
