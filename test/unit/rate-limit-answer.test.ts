import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorResponse } from '../../server/gateway/jsonrpc.ts';
import { DEFAULT_RATE_LIMIT_PATTERN, rateLimitSignal, waitNamedIn } from '../../server/gateway/rate-limit-answer.ts';
import { createCopyRest } from '../../server/gateway/rate-limit-rest.ts';
import { ReplicaEnvError, replicaEnvironments } from '../../server/gateway/replica-env.ts';

const pattern = new RegExp(DEFAULT_RATE_LIMIT_PATTERN, 'i');
const toolResult = (text: string, isError = true) => ({ jsonrpc: '2.0' as const, id: 1, result: { isError, content: [{ type: 'text', text }] } });

describe('rateLimitSignal', () => {
  test('an isError tool result matching the pattern, with the wait it names', () => {
    assert.deepEqual(rateLimitSignal(toolResult('429 rate limit, retry after 1s'), pattern), { retryAfterMs: 1000 });
    assert.deepEqual(rateLimitSignal(toolResult('Too Many Requests. Retry-After: 30'), pattern), { retryAfterMs: 30_000 });
    assert.deepEqual(rateLimitSignal(toolResult('GitHub API rate limit exceeded, try again in 2 minutes'), pattern), { retryAfterMs: 120_000 });
    assert.deepEqual(rateLimitSignal(toolResult('RateLimited'), pattern), { retryAfterMs: undefined });
  });

  test('not a rate limit: a success mentioning 429, another error, a result without content', () => {
    assert.equal(rateLimitSignal(toolResult('issue #429 is closed', false), pattern), null);
    assert.equal(rateLimitSignal(toolResult('file not found'), pattern), null);
    assert.equal(rateLimitSignal({ jsonrpc: '2.0', id: 1, result: { isError: true } }, pattern), null);
    assert.equal(rateLimitSignal(errorResponse(1, -32603, 'rate limit'), pattern), null, 'an error without HTTP 429 data');
  });

  test('a JSON-RPC error carrying HTTP 429 in its data', () => {
    assert.deepEqual(rateLimitSignal(errorResponse(1, -32000, 'upstream said no', { status: 429, retryAfter: 3 }), pattern), { retryAfterMs: 3000 });
    assert.deepEqual(rateLimitSignal(errorResponse(1, -32000, 'slow down, retry after 250ms', { httpStatus: 429 }), pattern), { retryAfterMs: 250 });
  });

  test('waits are capped at an hour and nonsense is no wait', () => {
    assert.equal(waitNamedIn('retry after 99999999 s'), 3_600_000);
    assert.equal(waitNamedIn('retry after soon'), undefined);
  });
});

describe('createCopyRest', () => {
  test('rests for the named wait, else a growing jittered backoff that a success forgets', () => {
    let now = 0;
    const rest = createCopyRest({ now: () => now, random: () => 0.5 });
    assert.equal(rest.remainingMs(), 0);
    assert.equal(rest.rest(1000), 1000);
    assert.equal(rest.remainingMs(), 1000);
    now = 1000;
    assert.equal(rest.remainingMs(), 0);
    const first = rest.rest(undefined);
    const second = rest.rest(undefined);
    assert.ok(second > first, `${second} > ${first}`);
    rest.ok();
    // A fresh streak: attempt 0, 1000 ms × the injected 0.5.
    assert.equal(rest.rest(undefined), 500);
    assert.ok(first > 500, 'the named wait counted in the streak');
    assert.equal(rest.limited, 4);
  });

  test('full jitter near zero still rests a tenth of the step', () => {
    const rest = createCopyRest({ now: () => 0, random: () => 0 });
    assert.equal(rest.rest(undefined), 100);
  });
});

describe('replicaEnvironments', () => {
  test('value k for copy k, from a list or a comma-separated variable', () => {
    assert.deepEqual(replicaEnvironments('api', { A: ['1', '2'], B: { env: 'KEYS' } }, 2, { KEYS: ' x , y ,' }), [
      { A: '1', B: 'x' },
      { A: '2', B: 'y' },
    ]);
  });

  test('too few values: an error naming the field and the variable, never a value', () => {
    assert.throws(
      () => replicaEnvironments('api', { OPENAI_API_KEY: { env: 'OPENAI_KEYS' } }, 3, { OPENAI_KEYS: 'sk-secret-1,sk-secret-2' }),
      (error: Error) =>
        error instanceof ReplicaEnvError &&
        /mcpServers\.api\.replicaEnv\.OPENAI_API_KEY reads 2 .*OPENAI_KEYS .*replicas is 3/.test(error.message) &&
        !error.message.includes('sk-secret'),
    );
    assert.throws(() => replicaEnvironments('api', { K: { env: 'UNSET' } }, 1, {}), /reads 0/);
  });
});
