import { setTimeout as sleep } from 'node:timers/promises';
import { openBoundedCache, type BoundedCache, type BoundedCacheOptions } from '../cache/bounded-cache.ts';
import { sha256Hex } from '../cache/cache-key.ts';
import { float32VectorCodec } from '../cache/value-codecs.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { ApiKeyPool, type ApiKeyLease, type ApiKeyStatus } from './api-key-pool.ts';
import { createBoundedQueue, type BoundedQueue } from './bounded-queue.ts';
import { backoffDelay } from '../supervision/backoff.ts';
import { parseResetDuration, retryAfterMs } from './retry-timing.ts';
import { UpstreamApiError } from './upstream-errors.ts';

export interface EmbeddingsClientOptions {
  /** OpenAI-compatible base URL, e.g. `https://api.openai.com/v1`; requests go to `${baseUrl}/embeddings`. */
  baseUrl: string;
  model: string;
  /** Keys used round-robin; none for a local endpoint without auth. Never logged. */
  apiKeys?: string[];
  /** Vectors by model + text; see createEmbeddingsCache. Without one, only concurrent duplicates are shared. */
  cache?: BoundedCache<number[]>;
  /** Requests in flight at once. Default 5. */
  concurrency?: number;
  /** Requests allowed to wait for a slot; beyond it calls fail at once with BusyError. Default 500. */
  maxQueued?: number;
  /** Texts per request. Default 96. */
  maxBatchSize?: number;
  /** Attempts per request, first included. Default 6. */
  maxAttempts?: number;
  /** A request gives up after this long, retries included. Default 60 s. */
  deadlineMs?: number;
  /** One HTTP attempt gives up after this long. Default 30 s. */
  requestTimeoutMs?: number;
  /** Backoff base and cap (full jitter) when the server gives no Retry-After. Defaults 250 ms, 20 s. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Sent as `dimensions` when set (models that can shorten their vectors). */
  dimensions?: number;
  logger?: Logger;
  /** For repeatable jitter in tests. Default Math.random. */
  random?: () => number;
}

export interface EmbeddingsClientStats {
  /** HTTP requests sent (attempts, retries included). */
  calls: number;
  retries: number;
  /** 429 answers received. */
  rateLimited: number;
  /** Requests that failed for good. */
  failures: number;
  /** Texts answered from the cache. */
  cacheHits: number;
  /** Texts that needed the API (each sent once, even when asked for concurrently). */
  cacheMisses: number;
  /** Texts that joined a request already in flight for the same text. */
  coalesced: number;
  /** Requests waiting for a slot. */
  queueSize: number;
  /** Requests in flight. */
  inFlight: number;
  keys: ApiKeyStatus[];
}

type AttemptOutcome =
  | { ok: true; vectors: number[][] }
  | { ok: false; retryable: boolean; error: UpstreamApiError; waitMs?: number; countsAsAttempt: boolean };

const SECRET_PATTERN = /\b(sk|pk|key)-[A-Za-z0-9_*.-]{6,}/g;

/** Cache key of one text's vector: model plus a hash of the text (texts can be long). */
export function embeddingCacheKey(model: string, text: string): string {
  return `${model}:${sha256Hex(text)}`;
}

/** A BoundedCache suited to vectors (float32 on disk and in memory), namespace "embeddings" by default. */
export function createEmbeddingsCache(
  options: Omit<BoundedCacheOptions<number[]>, 'codec' | 'namespace'> & { namespace?: string },
): Promise<BoundedCache<number[]>> {
  return openBoundedCache<number[]>({ namespace: 'embeddings', ...options, codec: float32VectorCodec });
}

/**
 * Client of an OpenAI-compatible embeddings API with the discipline an upstream with quotas needs:
 * cache first, one request per distinct text even under concurrent asks, a concurrency cap with a
 * bounded line (BusyError beyond it), retries on 429/5xx/network errors with backoff and jitter that
 * honour Retry-After, and a pool of keys where a rate-limited key rests while the others carry on.
 * Vectors come back rounded to float32 (what the models compute), cached or not.
 */
export class EmbeddingsClient {
  readonly #options: Required<Omit<EmbeddingsClientOptions, 'cache' | 'dimensions' | 'apiKeys' | 'logger'>>;
  readonly #cache: BoundedCache<number[]> | undefined;
  readonly #dimensions: number | undefined;
  readonly #logger: Logger;
  readonly #keys: ApiKeyPool;
  readonly #secrets: string[];
  readonly #queue: BoundedQueue;
  readonly #inFlight = new Map<string, Promise<number[]>>();
  readonly #closing = new AbortController();
  readonly #counters = { calls: 0, retries: 0, rateLimited: 0, failures: 0, cacheHits: 0, cacheMisses: 0, coalesced: 0 };

  constructor(options: EmbeddingsClientOptions) {
    this.#options = {
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      model: options.model,
      concurrency: options.concurrency ?? 5,
      maxQueued: options.maxQueued ?? 500,
      maxBatchSize: options.maxBatchSize ?? 96,
      maxAttempts: options.maxAttempts ?? 6,
      deadlineMs: options.deadlineMs ?? 60_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      baseDelayMs: options.baseDelayMs ?? 250,
      maxDelayMs: options.maxDelayMs ?? 20_000,
      random: options.random ?? Math.random,
    };
    this.#cache = options.cache;
    this.#dimensions = options.dimensions;
    this.#logger = (options.logger ?? silentLogger).child({ upstream: 'embeddings', model: options.model });
    this.#secrets = (options.apiKeys ?? []).filter((key) => key.length > 0);
    this.#keys = new ApiKeyPool(options.apiKeys ?? []);
    this.#queue = createBoundedQueue({
      name: 'embeddings',
      concurrency: this.#options.concurrency,
      maxWaiting: this.#options.maxQueued,
    });
  }

  /**
   * One vector per text, in order. Rejects with BusyError when the waiting line is full, with
   * UpstreamApiError when the API fails for good.
   */
  async embed(texts: readonly string[]): Promise<number[][]> {
    if (this.#closing.signal.aborted) throw new UpstreamApiError('embeddings client is closed');
    const { model } = this.#options;
    const results: Array<Promise<number[]>> = [];
    const mine: Array<{ text: string; key: string; resolve: (v: number[]) => void; reject: (e: unknown) => void }> = [];
    const seen = new Map<string, Promise<number[]>>();
    for (const text of texts) {
      const key = embeddingCacheKey(model, text);
      let promise = seen.get(key) ?? this.#inFlight.get(key);
      if (promise && !seen.has(key)) this.#counters.coalesced++;
      if (!promise) {
        // Registered before any await, so a concurrent caller asking for the same text joins this one.
        let resolve!: (vector: number[]) => void;
        let reject!: (error: unknown) => void;
        const created = new Promise<number[]>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        promise = created;
        this.#inFlight.set(key, created);
        const forget = () => this.#inFlight.delete(key);
        created.then(forget, forget);
        mine.push({ text, key, resolve, reject });
      }
      seen.set(key, promise);
      results.push(promise);
    }
    if (mine.length > 0) void this.#resolveOwn(mine);
    return Promise.all(results);
  }

  async embedOne(text: string): Promise<number[]> {
    const [vector] = await this.embed([text]);
    return vector!;
  }

  stats(): EmbeddingsClientStats {
    return {
      ...this.#counters,
      queueSize: this.#queue.size,
      inFlight: this.#queue.pending,
      keys: this.#keys.status(),
    };
  }

  /** Share of the API's request budget left across keys (0..1), null until the API reported limits. */
  rateLimitRemainingFraction(): number | null {
    return this.#keys.remainingFraction();
  }

  /** Aborts requests in flight and drops waiting ones; pending embed() calls reject. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.#queue.drain();
  }

  async #resolveOwn(
    mine: Array<{ text: string; key: string; resolve: (v: number[]) => void; reject: (e: unknown) => void }>,
  ): Promise<void> {
    const misses: typeof mine = [];
    const cached = await Promise.all(mine.map((item) => this.#cache?.get(item.key)));
    mine.forEach((item, i) => {
      const vector = cached[i];
      if (vector) {
        this.#counters.cacheHits++;
        item.resolve(vector);
      } else {
        misses.push(item);
      }
    });
    if (misses.length === 0) return;
    this.#counters.cacheMisses += misses.length;
    const chunks: Array<typeof mine> = [];
    for (let i = 0; i < misses.length; i += this.#options.maxBatchSize) {
      chunks.push(misses.slice(i, i + this.#options.maxBatchSize));
    }
    // All or nothing: a call is refused whole rather than half-admitted.
    if (!this.#queue.hasRoomFor(chunks.length)) {
      const busy = this.#queue.busyError();
      for (const item of misses) item.reject(busy);
      return;
    }
    await Promise.all(
      chunks.map(async (chunk) => {
        try {
          const vectors = await this.#request(chunk.map((item) => item.text));
          chunk.forEach((item, i) => {
            const vector = vectors[i]!;
            this.#cache?.set(item.key, vector);
            item.resolve(vector);
          });
        } catch (error) {
          this.#counters.failures++;
          for (const item of chunk) item.reject(error);
        }
      }),
    );
  }

  /** One request for a batch of texts, retried until it succeeds, fails for good, or runs out of time. */
  async #request(texts: string[]): Promise<number[][]> {
    const deadline = Date.now() + this.#options.deadlineMs;
    let attempts = 0;
    for (let round = 0; ; round++) {
      const outcome = await this.#queue.run(() => this.#attempt(texts, deadline), {
        admitted: round > 0,
        priority: round > 0 ? 1 : 0, // retries go ahead of new work, so started requests finish first
      });
      if (outcome.ok) return outcome.vectors;
      if (outcome.countsAsAttempt) attempts++;
      const error = new UpstreamApiError(outcome.error.message, {
        status: outcome.error.status,
        attempts,
        cause: outcome.error.cause,
      });
      if (!outcome.retryable || attempts >= this.#options.maxAttempts || this.#closing.signal.aborted) throw error;
      const waitMs =
        outcome.waitMs ?? this.#retryDelay(attempts);
      if (Date.now() + waitMs >= deadline) {
        throw new UpstreamApiError(`${error.message} (gave up: deadline of ${this.#options.deadlineMs} ms)`, {
          status: error.status,
          attempts,
        });
      }
      if (outcome.countsAsAttempt) this.#counters.retries++;
      if (waitMs > 0) {
        try {
          await sleep(waitMs, undefined, { signal: this.#closing.signal });
        } catch {
          throw new UpstreamApiError('embeddings client is closed', { attempts });
        }
      }
    }
  }

  async #attempt(texts: string[], deadline: number): Promise<AttemptOutcome> {
    const lease = this.#keys.acquire();
    if ('waitMs' in lease) {
      // Every key is resting: wait for the first to come back (plus a little jitter) without spending an attempt.
      const waitMs = lease.waitMs + Math.floor(this.#options.random() * Math.min(100, lease.waitMs / 10 + 1));
      return { ok: false, retryable: true, waitMs, countsAsAttempt: false, error: new UpstreamApiError('every API key is rate limited') };
    }
    let response: Response;
    try {
      response = await this.#post(texts, lease.key, deadline);
    } catch (error) {
      const reason = this.#closing.signal.aborted ? 'client closed' : describeFetchError(error);
      this.#logger.warn({ key: lease.id, reason }, 'embeddings request failed');
      return { ok: false, retryable: !this.#closing.signal.aborted, countsAsAttempt: true, error: new UpstreamApiError(`embeddings request failed: ${reason}`) };
    }
    this.#keys.observe(lease.key, response.headers);
    if (response.status === 429) return this.#rateLimited(response, lease);
    if (!response.ok) return this.#answeredError(response, lease);
    return vectorsOutcome(response, texts.length);
  }

  /** One POST to /embeddings with this key, bounded by the request timeout, the deadline and close(). */
  #post(texts: string[], key: string, deadline: number): Promise<Response> {
    const timeout = Math.max(1, Math.min(this.#options.requestTimeoutMs, deadline - Date.now()));
    const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(timeout)]);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    const body = JSON.stringify({
      model: this.#options.model,
      input: texts,
      ...(this.#dimensions ? { dimensions: this.#dimensions } : {}),
    });
    this.#counters.calls++;
    return fetch(`${this.#options.baseUrl}/embeddings`, { method: 'POST', headers, body, signal });
  }

  /** A 429: the key rests for as long as the server says (or a backoff), and the retry may take another key. */
  async #rateLimited(response: Response, lease: ApiKeyLease): Promise<AttemptOutcome> {
    this.#counters.rateLimited++;
    const restMs =
      retryAfterMs(response.headers) ??
      parseResetDuration(response.headers.get('x-ratelimit-reset-requests')) ??
      this.#retryDelay(2);
    this.#keys.rest(lease.key, Date.now() + restMs);
    await response.body?.cancel();
    this.#logger.warn({ key: lease.id, restMs }, 'embeddings API rate limited a key; it rests while others carry on');
    // Another key may be free right away; otherwise the pool says how long until one is.
    return {
      ok: false,
      retryable: true,
      countsAsAttempt: true,
      waitMs: 0,
      error: new UpstreamApiError('embeddings API rate limit (429)', { status: 429 }),
    };
  }

  /** Any other failing status: a server error or 408 is retried, anything else refuses the request for good. */
  async #answeredError(response: Response, lease: ApiKeyLease): Promise<AttemptOutcome> {
    if (response.status >= 500 || response.status === 408) {
      const detail = this.#redact((await response.text().catch(() => '')).slice(0, 200));
      this.#logger.warn({ key: lease.id, status: response.status }, 'embeddings API server error');
      return {
        ok: false,
        retryable: true,
        countsAsAttempt: true,
        waitMs: retryAfterMs(response.headers),
        error: new UpstreamApiError(`embeddings API answered ${response.status}: ${detail}`, { status: response.status }),
      };
    }
    const detail = this.#redact((await response.text().catch(() => '')).slice(0, 300));
    this.#logger.error({ key: lease.id, status: response.status }, 'embeddings API refused the request');
    return {
      ok: false,
      retryable: false,
      countsAsAttempt: true,
      error: new UpstreamApiError(`embeddings API answered ${response.status}: ${detail}`, { status: response.status }),
    };
  }

  /** The wait after `attempts` failed tries (1 = the first) when the server named none: doubling, full jitter. */
  #retryDelay(attempts: number): number {
    const { baseDelayMs, maxDelayMs, random } = this.#options;
    return backoffDelay(attempts - 1, { initialMs: baseDelayMs, factor: 2, maxMs: maxDelayMs, jitter: 'full' }, random);
  }

  /** Error bodies can echo a key (OpenAI prints a masked one on 401); never let any of it through. */
  #redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join('[redacted]');
    return out.replace(SECRET_PATTERN, '[redacted]');
  }
}

/** A 2xx answer's vectors, or why they could not be read. */
async function vectorsOutcome(response: Response, expected: number): Promise<AttemptOutcome> {
  try {
    const vectors = parseEmbeddings(await response.json(), expected);
    return { ok: true, vectors };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // A body cut off mid-way is a network failure worth retrying; a well-formed wrong answer is not.
    const retryable = !(error instanceof UpstreamApiError);
    return { ok: false, retryable, countsAsAttempt: true, error: new UpstreamApiError(`embeddings API: ${message}`) };
  }
}

function parseEmbeddings(body: unknown, expected: number): number[][] {
  const data = (body as { data?: unknown })?.data;
  if (!Array.isArray(data) || data.length !== expected) {
    throw new UpstreamApiError(`expected ${expected} embeddings, got ${Array.isArray(data) ? data.length : 'none'}`);
  }
  const vectors = new Array<number[]>(expected);
  data.forEach((item: { embedding?: unknown; index?: unknown }, position) => {
    const index = typeof item?.index === 'number' ? item.index : position;
    const embedding = item?.embedding;
    if (!Array.isArray(embedding) || !embedding.every((v) => typeof v === 'number') || index < 0 || index >= expected) {
      throw new UpstreamApiError(`malformed embedding at position ${position}`);
    }
    // Float32 rounding here too, so a vector is the same whether it came from the API or the cache.
    vectors[index] = Array.from(Float32Array.from(embedding as number[]));
  });
  if (vectors.some((v) => v === undefined)) throw new UpstreamApiError('embeddings missing for some inputs');
  return vectors;
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}
