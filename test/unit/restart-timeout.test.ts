import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restartTimeoutMs } from '../../main/commands/host-commands.ts';

const copies = (n: number) => ({ queue: {} as never, copies: Array.from({ length: n }, () => ({ restingForMs: null, rateLimited: 0, calls: 0 })) });

test("harbor restart waits per copy restarted: each copy's drain (its call timeout), stop and initialize", () => {
  const one = restartTimeoutMs({ requestTimeoutSeconds: 300 }, false);
  // A copy may take its whole call timeout to drain, then up to a minute to initialise.
  assert.ok(one >= (300 + 60) * 1000, `${one} ms for one process`);
  // Several slow copies one after another: the fixed 120 s was outrun by two.
  assert.equal(restartTimeoutMs({ requestTimeoutSeconds: 300, pool: copies(3) }, false), 3 * one);
  assert.equal(restartTimeoutMs({ requestTimeoutSeconds: 300, pool: copies(3) }, true), one, '--copy N: one copy');
  assert.ok(restartTimeoutMs({ requestTimeoutSeconds: 10, pool: copies(2) }, false) < 2 * one, 'a short call timeout waits less');
  // Unknown to the status (the host answers its 404 at once): the default call timeout.
  assert.equal(restartTimeoutMs(undefined, false), one);
});
