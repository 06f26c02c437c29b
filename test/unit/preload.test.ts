/**
 * The preload exposes exactly the HostApi methods, each as an ipcRenderer.invoke on `harbor:<method>`,
 * and nothing else. Runs the real preload source (types stripped, as Electron would run the compiled
 * CommonJS) in a VM context whose only `require` answers 'electron' with a recording stand-in.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { runInNewContext } from 'node:vm';
import { test } from 'node:test';
import { HOST_API_METHODS, IPC_CHANNEL_PREFIX } from '../../server/admin/host-api.ts';

const PRELOAD = new URL('../../main/shell/preload.cts', import.meta.url);

function loadPreload() {
  const exposed = new Map<string, unknown>();
  const invocations: Array<{ channel: string; args: unknown[] }> = [];
  const required: string[] = [];
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
    ipcRenderer: {
      invoke: async (channel: string, ...args: unknown[]) => {
        invocations.push({ channel, args });
        return `answer to ${channel}`;
      },
    },
  };
  const code = stripTypeScriptTypes(readFileSync(PRELOAD, 'utf8'));
  const module = { exports: {} };
  runInNewContext(code, {
    module,
    exports: module.exports,
    require: (name: string) => {
      required.push(name);
      if (name !== 'electron') throw new Error(`a sandboxed preload cannot require ${name}`);
      return electron;
    },
  });
  return { exposed, invocations, required };
}

test('the preload exposes window.harbor with exactly the HostApi methods', () => {
  const { exposed, required } = loadPreload();
  assert.deepEqual([...exposed.keys()], ['harbor']);
  assert.deepEqual(required, ['electron']);
  const api = exposed.get('harbor') as Record<string, unknown>;
  assert.deepEqual(Object.keys(api).sort(), [...HOST_API_METHODS].sort());
  for (const method of HOST_API_METHODS) assert.equal(typeof api[method], 'function', method);
  assert.ok(Object.isFrozen(api), 'the page cannot add to the bridge');
});

test('each method forwards its arguments to harbor:<method> and returns the answer', async () => {
  const { exposed, invocations } = loadPreload();
  const api = exposed.get('harbor') as Record<string, (...args: unknown[]) => Promise<unknown>>;
  assert.equal(await api.addTeammate!('bob'), `answer to ${IPC_CHANNEL_PREFIX}addTeammate`);
  await api.metricsHistory!('error_rate', 123);
  await api.status!();
  assert.deepEqual(invocations, [
    { channel: 'harbor:addTeammate', args: ['bob'] },
    { channel: 'harbor:metricsHistory', args: ['error_rate', 123] },
    { channel: 'harbor:status', args: [] },
  ]);
});

test('nothing from ipcRenderer or Node leaks through the bridge', () => {
  const { exposed } = loadPreload();
  const api = exposed.get('harbor') as Record<string, unknown>;
  for (const value of Object.values(api)) assert.equal(typeof value, 'function');
  assert.equal('invoke' in api, false);
  assert.equal('send' in api, false);
  assert.equal('on' in api, false);
});
