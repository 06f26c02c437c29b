import { AuditLog } from '../access/audit-log.ts';
import { openBoundedCache, type BoundedCache } from '../cache/bounded-cache.ts';
import type { HarborConfig } from '../config/config-schema.ts';
import type { HarborPaths } from '../harbor-home.ts';
import type { Logger } from '../logger.ts';
import { openStore, type HarborStore } from '../open-store.ts';
import { createEmbeddingsCache, EmbeddingsClient } from '../upstream-api/embeddings-client.ts';
import { buildClosable, own } from './resource-stack.ts';

/** What the host keeps: the store (tokens, audit rows, cache disk, history), the audit log and the caches. */
export interface HostStores {
  store: HarborStore;
  audit: AuditLog;
  /** Tool results, when a server caches any. */
  toolCache: BoundedCache<unknown> | null;
  embeddingsCache: BoundedCache<number[]> | null;
  embeddings: EmbeddingsClient | null;
  /** The caches that exist, for status and metrics. */
  caches(): Array<BoundedCache<never>>;
}

/**
 * Opens the stores: SQLite in the home, or PostgreSQL shared by replicas (HARBOR_DATABASE_URL /
 * store.url, server/open-store.ts), then the audit log and the caches on its disk layer. A failure
 * half-way closes what was opened; close(): embeddings client, caches, audit log, store (the reverse).
 */
export async function openHostStores(settings: { paths: HarborPaths; config: HarborConfig; log: Logger; replica?: string | undefined }): Promise<HostStores & { close(): Promise<void> }> {
  const { paths, config, log } = settings;
  return buildClosable(async (opened) => {
    const store = own(opened, await openStore({ paths, configUrl: config.store.url, log, ...(settings.replica ? { replica: settings.replica } : {}) }));
    const audit = own(opened, new AuditLog(store.audit, { maxRows: config.audit.maxRows, maxAgeMs: config.audit.maxAgeDays * 86_400_000, logger: log }));
    // One disk layer for tool results and embeddings, each in its namespace.
    const bytes = { maxMemoryBytes: config.cache.memoryMb * 1024 * 1024, maxDiskBytes: config.cache.diskMb * 1024 * 1024 };
    const embeddingsConfig = config.docs?.embeddings;
    const embeddingsCache = embeddingsConfig ? own(opened, await createEmbeddingsCache({ store: store.cache, ...bytes, logger: log })) : null;
    const needsToolCache = Object.values(config.mcpServers).some((s) => s.cache);
    const toolCache = needsToolCache ? own(opened, await openBoundedCache<unknown>({ store: store.cache, namespace: 'tools', ...bytes, logger: log })) : null;
    const embeddings = embeddingsConfig && embeddingsCache ? own(opened, embeddingsClient(embeddingsConfig, embeddingsCache, log)) : null;
    return {
      store,
      audit,
      toolCache,
      embeddingsCache,
      embeddings,
      caches: () => [toolCache, embeddingsCache].filter((c): c is BoundedCache<never> => c !== null),
    };
  });
}

type EmbeddingsConfig = NonNullable<NonNullable<HarborConfig['docs']>['embeddings']>;

function embeddingsClient(config: EmbeddingsConfig, cache: BoundedCache<number[]>, log: Logger): EmbeddingsClient {
  const envKeys = config.apiKeysEnv ? (process.env[config.apiKeysEnv] ?? '').split(',').map((k) => k.trim()).filter(Boolean) : [];
  return new EmbeddingsClient({
    baseUrl: config.baseUrl,
    model: config.model,
    apiKeys: [...config.apiKeys, ...envKeys],
    cache,
    concurrency: config.concurrency,
    maxQueued: config.maxQueued,
    logger: log,
  });
}
