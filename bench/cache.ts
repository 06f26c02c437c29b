/**
 * Cache benchmark: Zipf-distributed repeated queries through the embeddings client and its bounded
 * cache, against the local rate-limited stand-in API. Reports the hit ratio (target > 80 %,
 * DESIGN.md section 6), upstream calls saved, and RSS once the cache is full.
 *
 *   node bench/cache.ts [--queries 5000] [--distinct 1000] [--s 1.1] [--workers 25]
 *
 * Writes bench/results/cache.json.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { resultsPath, writeReport } from './echo/bench-report.ts';
import { sqliteCacheStoreFactory } from '../server/cache/sqlite-cache-store.ts';
import { createEmbeddingsCache, EmbeddingsClient } from '../server/upstream-api/embeddings-client.ts';
import { startEmbeddingsApi } from '../test/fixtures/embeddings-api.ts';
import { seededRandom } from '../test/fixtures/seeded-random.ts';

const { values: args } = parseArgs({
  options: {
    queries: { type: 'string', default: '5000' },
    distinct: { type: 'string', default: '1000' },
    s: { type: 'string', default: '1.1' },
    workers: { type: 'string', default: '25' },
    dimensions: { type: 'string', default: '1536' },
    'memory-mib': { type: 'string', default: '2' },
    'disk-mib': { type: 'string', default: '64' },
  },
});
const QUERIES = Number(args.queries);
const DISTINCT = Number(args.distinct);
const S = Number(args.s);
const WORKERS = Number(args.workers);
const DIMENSIONS = Number(args.dimensions);
const MAX_MEMORY_BYTES = Number(args['memory-mib']) * 1024 * 1024;
const MAX_DISK_BYTES = Number(args['disk-mib']) * 1024 * 1024;
const KEYS = ['bench-key-1', 'bench-key-2'];
const RATE_PER_KEY = 200;

/** Ranks 1..n drawn with P(k) ∝ 1/k^s, by inverting the cumulative distribution. */
function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / k ** s;
    cumulative[k - 1] = sum;
  }
  return () => {
    const target = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// `node bench/cache.ts` takes no flags, so expose gc() this way: memory is read after a full collection,
// so garbage from the in-process stand-in's JSON does not pass for cache memory.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function memory() {
  // ArrayBuffers are freed by a finalizer after the collection that finds them dead: collect twice.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const usage = process.memoryUsage();
  return { rssMiB: mib(usage.rss), heapUsedMiB: mib(usage.heapUsed), arrayBuffersMiB: mib(usage.arrayBuffers) };
}

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'harbor-bench-cache-'));
  const api = await startEmbeddingsApi({ keys: KEYS, ratePerSecondPerKey: RATE_PER_KEY, latencyMs: 20, dimensions: DIMENSIONS });
  const cacheFile = join(dir, 'cache.db');
  const cache = await createEmbeddingsCache({ store: sqliteCacheStoreFactory({ file: cacheFile }), maxMemoryBytes: MAX_MEMORY_BYTES, maxDiskBytes: MAX_DISK_BYTES });
  const client = new EmbeddingsClient({ baseUrl: api.url, model: 'bench-model', apiKeys: KEYS, cache, maxBatchSize: 1 });
  try {
    const next = zipfSampler(DISTINCT, S, seededRandom(42));
    const workload = Array.from({ length: QUERIES }, () => `query about topic ${next()}`);
    const distinctAsked = new Set(workload).size;
    const before = await memory();

    const latencies: number[] = [];
    let cursor = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (cursor < workload.length) {
          const text = workload[cursor++]!;
          const t0 = performance.now();
          await client.embedOne(text);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    await cache.flush();
    const upstream = api.stats();
    const clientStats = client.stats();
    const cacheStats = cache.stats();
    const afterWorkload = await memory();

    // Then write 10x the memory bound of new vectors: RSS must stay flat because both layers are bounded.
    const vectorBytes = DIMENSIONS * 4;
    const fill = Math.ceil((10 * MAX_MEMORY_BYTES) / vectorBytes);
    const filler = Array.from({ length: DIMENSIONS }, (_, i) => Math.sin(i));
    for (let i = 0; i < fill; i++) {
      filler[0] = i;
      cache.set(`filler:${i}`, filler);
      if (i % 500 === 499) await cache.flush();
    }
    await cache.flush();
    const cacheFull = await memory();
    const full = cache.stats();

    latencies.sort((a, b) => a - b);
    const textsServedWithoutUpstream = QUERIES - upstream.textsEmbedded;
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      workload: { queries: QUERIES, distinct: DISTINCT, zipfS: S, distinctAsked, workers: WORKERS, dimensions: DIMENSIONS },
      upstream: { keys: KEYS.length, ratePerSecondPerKey: RATE_PER_KEY, latencyMs: 20 },
      cache: { maxMemoryBytes: MAX_MEMORY_BYTES, maxDiskBytes: MAX_DISK_BYTES },
      results: {
        hitRatio: Math.round((textsServedWithoutUpstream / QUERIES) * 1000) / 1000,
        bestPossibleHitRatio: Math.round((1 - distinctAsked / QUERIES) * 1000) / 1000,
        cacheHitRatio: Math.round(cacheStats.hitRatio * 1000) / 1000,
        upstreamCalls: upstream.calls,
        upstreamCallsWithoutCache: QUERIES,
        upstreamCallsSaved: QUERIES - upstream.calls,
        rateLimited429: upstream.rejected429,
        callsDuringRest: upstream.callsDuringRest,
        maxConcurrentUpstream: upstream.maxConcurrent,
        coalesced: clientStats.coalesced,
        cacheHits: cacheStats.hits,
        elapsedMs: Math.round(elapsedMs),
        latencyMs: { p50: Math.round(percentile(latencies, 50) * 10) / 10, p95: Math.round(percentile(latencies, 95) * 10) / 10 },
      },
      memory: {
        before,
        afterWorkload,
        cacheFull,
        filledBytes: fill * vectorBytes,
        cacheMemoryBytes: full.bytes.memory,
        cacheDiskBytes: full.bytes.disk,
        cacheFileBytes: statSync(cacheFile).size,
        evictions: full.evictions,
      },
    };
    const out = resultsPath('cache.json');
    writeReport(out, result);

    const r = result.results;
    const m = result.memory;
    console.log(`cache benchmark: ${QUERIES} queries over ${DISTINCT} distinct (Zipf s=${S}, ${distinctAsked} asked), ${WORKERS} workers`);
    console.log(`  hit ratio            ${(r.hitRatio * 100).toFixed(1)} % (best possible from cold ${(r.bestPossibleHitRatio * 100).toFixed(1)} %)`);
    console.log(`  upstream calls       ${r.upstreamCalls} instead of ${QUERIES} (${r.upstreamCallsSaved} saved), ${r.rateLimited429} × 429, peak ${r.maxConcurrentUpstream} in flight`);
    console.log(`  latency              p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, total ${r.elapsedMs} ms`);
    console.log(`  memory layer         ${mib(m.cacheMemoryBytes)} MiB of ${mib(MAX_MEMORY_BYTES)} MiB after writing ${mib(m.filledBytes)} MiB more`);
    console.log(`  disk layer           ${mib(m.cacheDiskBytes)} MiB of ${mib(MAX_DISK_BYTES)} MiB (file ${mib(m.cacheFileBytes)} MiB)`);
    console.log(`  RSS                  ${m.before.rssMiB} → ${m.afterWorkload.rssMiB} MiB after workload → ${m.cacheFull.rssMiB} MiB with the cache full`);
    console.log(`  heap + buffers       ${m.before.heapUsedMiB}+${m.before.arrayBuffersMiB} → ${m.afterWorkload.heapUsedMiB}+${m.afterWorkload.arrayBuffersMiB} → ${m.cacheFull.heapUsedMiB}+${m.cacheFull.arrayBuffersMiB} MiB (after gc)`);
    console.log(`  written ${out}`);
  } finally {
    await client.close();
    await cache.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
