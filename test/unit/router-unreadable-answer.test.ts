import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unreadableAnswerId } from '../../server/gateway/unreadable-answer.ts';

const line = (id: number | string | undefined, response: boolean) => ({ reason: 'a line that is not JSON', id, response });

test('the gateway id a refused line named is the call it answered', () => {
  assert.equal(unreadableAnswerId(line(7, true), [3, 7, 9]), 7);
  assert.equal(unreadableAnswerId(line(7, true), []), 7, 'finished already: the router finds nothing to fail');
  assert.equal(unreadableAnswerId(line('7', true), [7]), undefined, 'a string id is none of the gateway\'s');
});

test('an answer without a readable id is attributed only when one request is in flight', () => {
  assert.equal(unreadableAnswerId(line(undefined, true), [4]), 4);
  assert.equal(unreadableAnswerId(line(undefined, true), [4, 5]), undefined, 'failing either would be a guess');
  assert.equal(unreadableAnswerId(line(undefined, true), []), undefined);
  assert.equal(unreadableAnswerId(line(undefined, false), [4]), undefined, 'not an answer (a request or notification of the server)');
});
