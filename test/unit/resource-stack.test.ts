import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildClosable, own } from '../../server/host/resource-stack.ts';

/** A part that notes its close in `closed`. */
const part = (name: string, closed: string[]) => ({ name, close: async () => void closed.push(name) });

test('a built part closes what it opened, last opened first, once', async () => {
  const closed: string[] = [];
  const built = await buildClosable(async (opened) => {
    own(opened, part('store', closed));
    own(opened, part('cache', closed));
    own(opened, part('http', closed));
    return { ready: true };
  });
  assert.equal(built.ready, true);
  assert.deepEqual(closed, [], 'nothing closes while the part is in use');
  await built.close();
  await built.close();
  assert.deepEqual(closed, ['http', 'cache', 'store']);
});

test('a build failing half-way closes what it had opened, in reverse, and its error goes on', async () => {
  const closed: string[] = [];
  const taken = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
  await assert.rejects(
    buildClosable(async (opened) => {
      own(opened, part('store', closed));
      own(opened, part('cache', closed));
      throw taken;
    }),
    (error) => error === taken,
  );
  assert.deepEqual(closed, ['cache', 'store']);
});

test('a close failing during that clean-up still closes the rest, and carries both errors', async () => {
  const closed: string[] = [];
  const failure = new Error('build failed');
  const stuck = new Error('close failed');
  await assert.rejects(
    buildClosable(async (opened) => {
      own(opened, part('store', closed));
      own(opened, { close: async () => Promise.reject(stuck) });
      throw failure;
    }),
    (error) => error instanceof SuppressedError && error.error === stuck && error.suppressed === failure,
  );
  assert.deepEqual(closed, ['store']);
});
