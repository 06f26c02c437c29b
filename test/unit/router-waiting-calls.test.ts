import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JsonRpcRequest } from '../../server/gateway/jsonrpc.ts';
import { WaitingCalls, type WaitingCall } from '../../server/gateway/waiting-calls.ts';

const call = (session: string, id: number, name = 'quick'): WaitingCall<string> => ({ session, request: { jsonrpc: '2.0', id, method: 'tools/call', params: { name } } as JsonRpcRequest });
const label = (w: WaitingCall<string>) => `${w.session}:${w.request.id}`;

/** A line whose started calls stay in flight until `finish`; the upstream is ready unless told otherwise. */
function line(options: { serial?: boolean; lane?: (w: WaitingCall<string>) => boolean; ready?: () => boolean; initialise?: () => Promise<unknown>; closed?: boolean } = {}) {
  const started: string[] = [];
  const failed: string[] = [];
  let inFlight = 0;
  const waiting: WaitingCalls<string> = new WaitingCalls<string>({
    serial: options.serial ?? false,
    inFlight: () => inFlight,
    mustWait: options.lane ?? (() => false),
    ready: options.ready ?? (() => true),
    initialise: options.initialise ?? (async () => {}),
    closed: () => options.closed ?? false,
    start: (w) => (started.push(label(w)), inFlight++),
    fail: (w, why) => failed.push(`${label(w)} ${why}`),
  });
  const finish = () => (inFlight--, waiting.pump());
  return { waiting, started, failed, finish };
}

test('serial: one call in flight at a time, in arrival order', () => {
  const { waiting, started, finish } = line({ serial: true });
  for (const [i, who] of ['alice', 'bob', 'alice'].entries()) waiting.push(call(who, i));
  assert.deepEqual(started, ['alice:0']);
  finish();
  assert.deepEqual(started, ['alice:0', 'bob:1']);
  finish();
  finish();
  assert.deepEqual(started, ['alice:0', 'bob:1', 'alice:2']);
  assert.equal(waiting.size, 0);
});

test('shared: every call starts at once, except those waiting for the interactive lane, which the rest pass', () => {
  let laneBusy = true;
  const { waiting, started } = line({ lane: (w) => laneBusy && w.request.params!.name === 'asks' });
  waiting.push(call('alice', 1, 'asks'));
  waiting.push(call('bob', 2));
  assert.deepEqual(started, ['bob:2']);
  assert.equal(waiting.size, 1);
  laneBusy = false;
  waiting.pump();
  assert.deepEqual(started, ['bob:2', 'alice:1']);
});

test('replays go first; cancelled and ended sessions\' calls never start', () => {
  const { waiting, started, finish } = line({ serial: true });
  waiting.push(call('alice', 1));
  waiting.push(call('bob', 2));
  waiting.push(call('bob', 3));
  waiting.push(call('carol', 4));
  assert.equal(waiting.cancel('alice', 2), false, 'alice has no call 2: bob\'s is not hers to cancel');
  assert.equal(waiting.cancel('bob', 2), true);
  waiting.dropSession('carol');
  waiting.putFirst([{ ...call('dave', 9), replayed: true }]);
  finish();
  finish();
  finish();
  assert.deepEqual(started, ['alice:1', 'dave:9', 'bob:3']);
});

test('calls wait for the upstream to initialise, then start; when it cannot be, every waiting call fails with why', async () => {
  let ready = false;
  const handshakes: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  const t = line({ ready: () => ready, initialise: () => new Promise<void>((resolve, reject) => handshakes.push({ resolve, reject })) });
  t.waiting.push(call('alice', 1));
  assert.equal(handshakes.length, 1);
  assert.deepEqual(t.started, []);
  ready = true;
  handshakes[0]!.resolve();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(t.started, ['alice:1']);
  ready = false; // the upstream went away
  t.waiting.push(call('bob', 2));
  t.waiting.push(call('carol', 3));
  handshakes.slice(1).forEach((h) => h.reject(new Error('exited with code 1')));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(t.failed, ['bob:2 exited with code 1', 'carol:3 exited with code 1']);
  assert.equal(t.waiting.size, 0);
});

test('a closed router starts no handshake for what waits', () => {
  let attempts = 0;
  const { waiting } = line({ ready: () => false, closed: true, initialise: async () => void attempts++ });
  waiting.push(call('alice', 1));
  assert.equal(attempts, 0);
  assert.equal(waiting.size, 1);
});
