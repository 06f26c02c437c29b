import { z } from 'zod';
import { alertOverridesSchema } from '../metrics/alert-rules.ts';
import { isServerName, SERVER_NAME_RULE } from '../gateway/server-name.ts';
import { DEFAULT_RATE_LIMIT_PATTERN } from '../gateway/rate-limit-answer.ts';

const DEFAULT_MAX_QUEUED_CALLS = 500;
const MAX_REPLICAS = 16;

function isRegExp(source: string): boolean {
  try {
    new RegExp(source, 'i');
    return true;
  } catch {
    return false;
  }
}

/**
 * One hosted stdio server, in the shape Claude Desktop and Cursor configs already use, so an entry
 * pastes in unchanged; Harbor's own fields sit beside the usual ones.
 */
export const StdioServerSchema = z
  .object({
    command: z.string().min(1, 'command must not be empty'),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    /** shared: one upstream for all sessions; serial: one request in flight; isolated: one upstream per session. */
    mode: z.enum(['shared', 'serial', 'isolated']).default('shared'),
    /** Cap on upstream processes in isolated mode. */
    maxIsolated: z.number().int().positive().default(10),
    memoryLimitMb: z.number().positive().default(512),
    restart: z
      .object({
        maxCrashes: z.number().int().positive().default(10),
        windowSeconds: z.number().positive().default(60),
      })
      .strict()
      .default({ maxCrashes: 10, windowSeconds: 60 }),
    cache: z
      .object({
        tools: z.union([z.literal('readOnly'), z.array(z.string())]),
        ttlSeconds: z.number().positive().default(300),
      })
      .strict()
      .optional(),
    /** Upstream request timeout; a hung upstream answers the client with an error instead of hanging it. */
    requestTimeoutSeconds: z.number().positive().default(300),
    /** Longest stdout line (one JSON-RPC message) accepted from this server; a longer one fails its call at once. */
    maxLineBytes: z.number().int().positive().default(16 * 1024 * 1024),
    disabled: z.boolean().default(false),
    /** Tool calls in flight to this server (all copies together); unset: no cap (as before). The rest wait, fairly per teammate. */
    maxConcurrentCalls: z.number().int().positive().optional(),
    /** Tool calls waiting for a slot; beyond it a call is refused with -32002 naming the limit. */
    maxQueuedCalls: z.number().int().positive().default(DEFAULT_MAX_QUEUED_CALLS),
    /** Copies of this server (shared or serial mode), calls spread over them: for stateless API wrappers. */
    replicas: z.number().int().min(1).max(MAX_REPLICAS).default(1),
    /** Per-copy values: a list (value k for copy k) or {"env": "NAME"}, comma-separated in Harbor's environment. */
    replicaEnv: z.record(z.string().min(1), z.union([z.array(z.string().min(1)).min(1), z.object({ env: z.string().min(1) }).strict()])).default({}),
    /** A tool result with isError matching this (case-insensitive) means the API behind the server rate-limited it. */
    rateLimitPattern: z.string().refine(isRegExp, 'rateLimitPattern must be a valid regular expression').default(DEFAULT_RATE_LIMIT_PATTERN),
    /** Tools retried on another copy after a rate limit, besides those declaring readOnlyHint or idempotentHint. */
    retryTools: z.array(z.string()).default([]),
    /** Retries of one call after rate limits. */
    maxRateLimitRetries: z.number().int().min(0).max(10).default(2),
  })
  .strict()
  .superRefine((entry, ctx) => {
    if (entry.replicas > 1 && entry.mode === 'isolated') {
      ctx.addIssue({ code: 'custom', path: ['replicas'], message: 'replicas applies to shared and serial servers; isolated runs one process per session already' });
    }
    for (const [name, source] of Object.entries(entry.replicaEnv)) {
      if (Array.isArray(source) && source.length < entry.replicas) {
        ctx.addIssue({ code: 'custom', path: ['replicaEnv', name], message: `lists ${source.length} value(s) for ${entry.replicas} replicas: each copy needs its own` });
      }
    }
  });

/** An OpenAI-compatible embeddings endpoint for the docs server's semantic ranking. */
export const EmbeddingsSchema = z
  .object({
    baseUrl: z.url(),
    model: z.string().min(1),
    /** Keys used round-robin; a key that got 429 rests while the others carry on. */
    apiKeys: z.array(z.string().min(1)).default([]),
    /** Or: the name of an environment variable holding comma-separated keys (keeps them out of the file). */
    apiKeysEnv: z.string().optional(),
    concurrency: z.number().int().positive().default(5),
    maxQueued: z.number().int().positive().default(500),
  })
  .strict();

export const DocsSchema = z
  .object({
    folder: z.string().min(1),
    /** Seconds between background mtime scans; file-system events trigger scans sooner. */
    rescanSeconds: z.number().positive().default(30),
    embeddings: EmbeddingsSchema.optional(),
  })
  .strict();

export const HarborConfigSchema = z
  .object({
    $schema: z.string().optional(),
    mcpServers: z.record(z.string().refine(isServerName, SERVER_NAME_RULE), StdioServerSchema).default({}),
    /**
     * The built-in docs server: kept (over HARBOR_HOME/docs) when the field is absent, turned off only
     * by an explicit `"docs": false`. Parsed `false` becomes undefined: off, as consumers read it.
     */
    docs: z
      .union([z.literal(false), DocsSchema])
      .optional()
      .transform((docs) => (docs === false ? undefined : docs)),
    port: z.number().int().min(0).max(65535).default(7837),
    host: z.string().default('127.0.0.1'),
    /** Largest request body accepted; beyond it, 413. */
    maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
    sessionTtlSeconds: z.number().positive().default(30 * 60),
    /** Extra origins allowed to call the MCP endpoints from a browser (the tunnel's is added while sharing). */
    allowedOrigins: z.array(z.string()).default([]),
    /**
     * How teammates prove who they are. `tokens` (default): static bearer tokens, exactly as before, and
     * nothing of OAuth advertised: DESIGN.md section 4, Claude Code and Cursor stop sending a configured
     * Authorization header once a server advertises OAuth metadata, so advertising it by default would
     * break every header-configured client. `both` (what turning on sign-in should pick): a presented
     * static token works as before; a request without a valid one gets the 401 that leads to Sign in with
     * Harbor (server/oauth). `oauth`: sign-in only; static tokens are refused.
     */
    auth: z.enum(['tokens', 'oauth', 'both']).default('tokens'),
    /** auto: JSON when the answer is quick, SSE once the call streams or takes long; json: never SSE (quick tunnels); sse: always SSE. */
    responseMode: z.enum(['auto', 'json', 'sse']).default('auto'),
    /** The bounded cache behind tool results and embeddings: memory in front of a SQLite file. */
    cache: z
      .object({ memoryMb: z.number().positive().default(64), diskMb: z.number().positive().default(256) })
      .strict()
      .default({ memoryMb: 64, diskMb: 256 }),
    /**
     * Per-teammate limits: a token bucket of requests and a cap on concurrent sessions. They stop
     * runaway loops and must never be felt by a person. Measured: the official conformance suite
     * (32 scenarios, one teammate) sends 148 requests in 1.2 s, 48 in its busiest 100 ms, and holds up
     * to 9 sessions at once, 8 with a stream open; the old 10/s burst 30 failed it with 24 429s. A
     * client starting against a few servers sends 5-6 requests per server at once. 50/s sustained with
     * a burst of 200 covers both with a margin, while a loop at hundreds a second meets 429 within
     * seconds. At the session cap the least recently used idle session makes room (session-cap.ts);
     * 32 holds four clients on eight servers, each with its GET stream open.
     */
    limits: z
      .object({
        requestsPerSecond: z.number().positive().default(50),
        burst: z.number().int().positive().default(200),
        sessionsPerTeammate: z.number().int().positive().default(32),
      })
      .strict()
      .default({ requestsPerSecond: 50, burst: 200, sessionsPerTeammate: 32 }),
    /** Metrics collection (latency, errors, memory, caches, connections). Off only to measure its cost. */
    metrics: z.object({ enabled: z.boolean().default(true) }).strict().default({ enabled: true }),
    /** Memory limit of the host process itself (the supervisor restarts it above this). */
    hostMemoryLimitMb: z.number().positive().default(512),
    /** Alert rule overrides by rule id: { threshold?, forMs?, enabled? }. */
    alerts: alertOverridesSchema.default({}),
    /** Audit log bounds. */
    audit: z
      .object({ maxRows: z.number().int().positive().default(100_000), maxAgeDays: z.number().positive().default(30) })
      .strict()
      .default({ maxRows: 100_000, maxAgeDays: 30 }),
    /**
     * Where tokens, the audit log, the cache's disk layer and metric history live: absent = SQLite in the
     * home folder; a postgres:// URL = PostgreSQL shared by replicas. HARBOR_DATABASE_URL overrides it
     * (and keeps a password out of this file).
     */
    store: z
      .object({ url: z.string().regex(/^postgres(ql)?:\/\//, 'store.url must be a postgres:// or postgresql:// URL').optional() })
      .strict()
      .default({}),
  })
  .strict();

export type HarborConfig = z.infer<typeof HarborConfigSchema>;
export type StdioServerConfig = z.infer<typeof StdioServerSchema>;
export type DocsConfig = z.infer<typeof DocsSchema>;
export type EmbeddingsConfig = z.infer<typeof EmbeddingsSchema>;
