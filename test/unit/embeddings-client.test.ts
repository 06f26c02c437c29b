import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { sqliteCacheStoreFactory } from '../../server/cache/sqlite-cache-store.ts';
import { createEmbeddingsCache, EmbeddingsClient } from '../../server/upstream-api/embeddings-client.ts';
import { BusyError, UpstreamApiError } from '../../server/upstream-api/upstream-errors.ts';
import { expectedEmbedding, startEmbeddingsApi, type EmbeddingsApi } from '../fixtures/embeddings-api.ts';
import { waitFor } from '../helpers/harbor.ts';

const dir = mkdtempSync(join(tmpdir(), 'harbor-embeddings-'));
const apis: EmbeddingsApi[] = [];
const clients: EmbeddingsClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(apis.map((a) => a.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function api(options: Parameters<typeof startEmbeddingsApi>[0]) {
  const started = await startEmbeddingsApi(options);
  apis.push(started);
  return started;
}

function client(options: ConstructorParameters<typeof EmbeddingsClient>[0]) {
  const created = new EmbeddingsClient({ baseDelayMs: 5, maxDelayMs: 50, ...options });
  clients.push(created);
  return created;
}

/** A promise the API stand-in's answers wait for, and its release. */
function gate(): { hold: Promise<void>; release: () => void } {
  let release!: () => void;
  const hold = new Promise<void>((resolve) => (release = resolve));
  return { hold, release };
}

function assertVector(actual: number[], text: string): void {
  const expected = expectedEmbedding(text);
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) < 1e-6, `${text}[${i}]`);
}

function capturingLogger() {
  const lines: string[] = [];
  return { logger: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }), lines };
}

describe('EmbeddingsClient', () => {
  test('25 concurrent callers of the same 20 queries: no failure, few upstream calls, concurrency capped', async () => {
    // Answers wait until two requests are open at once: that proves they run in parallel without a
    // latency guessed to make them overlap.
    const { hold, release } = gate();
    const upstream = await api({ keys: ['key-a'], ratePerSecondPerKey: 10_000, hold });
    const cache = await createEmbeddingsCache({ store: sqliteCacheStoreFactory({ file: join(dir, 'concurrent.db') }), maxMemoryBytes: 1 << 20 });
    const maxBatchSize = 2;
    const concurrency = 5;
    const embeddings = client({ baseUrl: upstream.url, model: 'test-model', apiKeys: ['key-a'], cache, maxBatchSize, concurrency });
    const queries = Array.from({ length: 20 }, (_, i) => `query number ${i}`);
    const callers = 25;

    const pending = Promise.all(Array.from({ length: callers }, () => embeddings.embed(queries)));
    await waitFor(() => upstream.stats().maxConcurrent >= 2, 10_000, 'two requests open at once');
    release();
    const results = await pending;
    for (const vectors of results) vectors.forEach((vector, i) => assertVector(vector, queries[i]!));

    const uncachedCalls = callers * Math.ceil(queries.length / maxBatchSize); // what each caller alone would send
    const { calls, maxConcurrent } = upstream.stats();
    assert.ok(calls <= 0.2 * uncachedCalls, `${calls} calls vs ${uncachedCalls} without the cache`);
    assert.equal(calls, queries.length / maxBatchSize, 'each distinct text is fetched once');
    assert.ok(maxConcurrent <= concurrency, `peak ${maxConcurrent} > ${concurrency}`);
    assert.ok(maxConcurrent > 1, 'requests did run in parallel');

    // Later callers are served from the cache alone.
    const again = await embeddings.embed(queries);
    again.forEach((vector, i) => assertVector(vector, queries[i]!));
    assert.equal(upstream.stats().calls, calls);
    const stats = embeddings.stats();
    assert.ok(stats.cacheHits >= queries.length);
    assert.equal(stats.cacheMisses, queries.length);
    assert.equal(stats.inFlight, 0);
    assert.equal(stats.queueSize, 0);
    await cache.close();
  });

  test('two keys are used round-robin, roughly equally', async () => {
    const upstream = await api({ keys: ['key-a', 'key-b'], ratePerSecondPerKey: 10_000 });
    const embeddings = client({ baseUrl: upstream.url, model: 'm', apiKeys: ['key-a', 'key-b'], maxBatchSize: 1 });
    const texts = Array.from({ length: 40 }, (_, i) => `text ${i}`);
    await embeddings.embed(texts);
    const { callsByKey } = upstream.stats();
    assert.equal((callsByKey['key-a'] ?? 0) + (callsByKey['key-b'] ?? 0), 40);
    assert.ok(Math.abs((callsByKey['key-a'] ?? 0) - (callsByKey['key-b'] ?? 0)) <= 2, JSON.stringify(callsByKey));
  });

  test('a key that got 429 rests while the other key carries on; keys never reach the logs', async () => {
    const keys = ['sk-slow-key-aaaaaaaa', 'sk-fast-key-bbbbbbbb'];
    const [slow, fast] = keys as [string, string];
    // A one-minute window: the slow key stays at its limit for the whole test (a one-second window
    // could end during a slow run and bring it back for a share of the texts).
    const upstream = await api({ keys, ratePerSecondPerKey: { [slow]: 2, [fast]: 100 }, windowMs: 60_000, latencyMs: 10 });
    const { logger, lines } = capturingLogger();
    const embeddings = client({ baseUrl: upstream.url, model: 'm', apiKeys: keys, maxBatchSize: 1, concurrency: 5, logger });
    const texts = Array.from({ length: 30 }, (_, i) => `doc ${i}`);

    const vectors = await embeddings.embed(texts);
    vectors.forEach((vector, i) => assertVector(vector, texts[i]!));

    const s = upstream.stats();
    assert.ok((s.rejected429ByKey[slow] ?? 0) >= 1, 'the slow key hit its limit');
    assert.equal(s.callsDuringRest, 0, 'no request reached a key while it was told to wait');
    assert.equal(s.rejected429ByKey[fast] ?? 0, 0);
    assert.ok((s.callsByKey[fast] ?? 0) >= texts.length - 2, JSON.stringify(s.callsByKey));
    const stats = embeddings.stats();
    assert.equal(stats.rateLimited, s.rejected429);
    assert.ok(stats.retries >= s.rejected429);
    assert.ok(stats.keys.some((k) => k.id === 'key#1' && k.restingUntil > 0));
    const fraction = embeddings.rateLimitRemainingFraction();
    assert.ok(fraction !== null && fraction >= 0 && fraction <= 1, String(fraction));

    const logged = lines.join('\n');
    assert.match(logged, /rate limited a key/);
    for (const key of keys) assert.ok(!logged.includes(key), 'a key was logged');
  });

  test('a single key waits for its reset instead of hammering the API', async () => {
    const upstream = await api({ keys: ['only'], ratePerSecondPerKey: 3 });
    const embeddings = client({ baseUrl: upstream.url, model: 'm', apiKeys: ['only'], maxBatchSize: 1, concurrency: 1 });
    const texts = ['a', 'b', 'c', 'd', 'e'];
    const vectors = await embeddings.embed(texts);
    vectors.forEach((vector, i) => assertVector(vector, texts[i]!));
    const s = upstream.stats();
    // x-ratelimit-remaining-requests reached 0 after the third call, so the client waited for the reset.
    assert.ok(s.rejected429 <= 1, `${s.rejected429} rejections`);
    assert.equal(s.callsDuringRest, 0);
    assert.equal(s.textsEmbedded, texts.length);
  });

  test('server errors are retried; a persistent failure gives up after maxAttempts', async () => {
    const flaky = await api({ keys: ['k'], ratePerSecondPerKey: 10_000, failRate: 0.3, seed: 7 });
    const embeddings = client({ baseUrl: flaky.url, model: 'm', apiKeys: ['k'], maxBatchSize: 1, maxAttempts: 10 });
    const texts = Array.from({ length: 20 }, (_, i) => `flaky ${i}`);
    (await embeddings.embed(texts)).forEach((vector, i) => assertVector(vector, texts[i]!));
    assert.ok(flaky.stats().failed5xx > 0, 'the stand-in did fail some requests');
    assert.equal(embeddings.stats().retries, flaky.stats().failed5xx);

    const broken = await api({ keys: ['k'], ratePerSecondPerKey: 10_000, failRate: 1 });
    const hopeless = client({ baseUrl: broken.url, model: 'm', apiKeys: ['k'], maxAttempts: 3 });
    await assert.rejects(hopeless.embed(['x']), (error: unknown) => {
      assert.ok(error instanceof UpstreamApiError);
      assert.equal(error.attempts, 3);
      assert.ok(error.status === 500 || error.status === 503);
      return true;
    });
    assert.equal(broken.stats().calls, 3);
    assert.equal(hopeless.stats().failures, 1);
  });

  test('a network error is retried and bounded by the deadline', async () => {
    const upstream = await api({ keys: ['k'], ratePerSecondPerKey: 10 });
    const url = upstream.url;
    await upstream.close();
    const embeddings = client({ baseUrl: url, model: 'm', apiKeys: ['k'], maxAttempts: 4 });
    await assert.rejects(embeddings.embed(['x']), (error: unknown) => error instanceof UpstreamApiError && error.attempts === 4);
    assert.equal(embeddings.stats().calls, 4);
  });

  test('a refused key fails at once, without retries and without the key in the error', async () => {
    const upstream = await api({ keys: ['good'], ratePerSecondPerKey: 10 });
    const wrong = 'sk-wrong-key-0123456789';
    const embeddings = client({ baseUrl: upstream.url, model: 'm', apiKeys: [wrong] });
    await assert.rejects(embeddings.embed(['x']), (error: unknown) => {
      assert.ok(error instanceof UpstreamApiError);
      assert.equal(error.status, 401);
      assert.ok(!error.message.includes(wrong));
      return true;
    });
    assert.equal(upstream.stats().calls, 1);
  });

  test('a full waiting line rejects at once with BusyError', async () => {
    // The first call is held by the stand-in until the refusals are checked (a 300 ms latency had to
    // outlast the polling and both refusals, on a loaded machine too).
    const { hold, release } = gate();
    const upstream = await api({ keys: ['k'], ratePerSecondPerKey: 10_000, hold });
    const embeddings = client({ baseUrl: upstream.url, model: 'm', apiKeys: ['k'], concurrency: 1, maxQueued: 2, maxBatchSize: 1 });
    const admitted = [embeddings.embedOne('one'), embeddings.embedOne('two'), embeddings.embedOne('three')];
    const busy = () => [embeddings.stats().inFlight, embeddings.stats().queueSize];
    await waitFor(() => busy().join() === '1,2', 10_000, 'one call in flight and two waiting');
    assert.deepEqual(busy(), [1, 2]);

    await assert.rejects(embeddings.embedOne('four'), (error: unknown) => {
      assert.ok(error instanceof BusyError);
      assert.equal(error.message, 'embeddings queue full (2 waiting)');
      return true;
    });
    // A call that would need more room than is left is refused whole.
    await assert.rejects(embeddings.embed(['five', 'six']), BusyError);
    assert.deepEqual(busy(), [1, 2], 'still full while the first call is held');
    release();
    const vectors = await Promise.all(admitted);
    vectors.forEach((vector, i) => assertVector(vector, ['one', 'two', 'three'][i]!));
    assert.equal(upstream.stats().calls, 3);
    // Once the line has room again, calls are accepted.
    assertVector(await embeddings.embedOne('four'), 'four');
  });
});
