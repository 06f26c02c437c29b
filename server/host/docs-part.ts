import type { HarborConfig } from '../config/config-schema.ts';
import { DocsIndex } from '../docs/docs-index.ts';
import { createDocsServer, ensureDocsFolder } from '../docs/docs-server.ts';
import { HostedServer } from '../gateway/hosted-server.ts';
import { InProcessUpstream } from '../gateway/in-process-upstream.ts';
import { DOCS_SERVER_NAME } from '../gateway/server-name.ts';
import type { CallEvent } from '../gateway/upstream-router.ts';
import type { HarborPaths } from '../harbor-home.ts';
import type { Logger } from '../logger.ts';
import type { EmbeddingsClient } from '../upstream-api/embeddings-client.ts';
import { HARBOR_VERSION } from '../version.ts';
import { removeHosted, type Sessions } from './hosted-servers.ts';

export interface DocsPart {
  /** The index served now; null when docs are off. */
  current(): DocsIndex | null;
  /** Serves another folder: the old server's sessions end, its index closes, the new one is scanned. */
  moveTo(folder: string, sessions: Sessions): Promise<{ folder: string }>;
  close(): Promise<void>;
}

/** The built-in docs server (config `docs`): an index of a folder, served in process as "docs". */
export async function startDocs(parts: {
  servers: Map<string, HostedServer>;
  config: HarborConfig;
  paths: HarborPaths;
  log: Logger;
  embeddings: EmbeddingsClient | null;
  onCallDone: (server: string, event: CallEvent) => void;
}): Promise<DocsPart> {
  const { servers, config, paths, log, embeddings } = parts;
  let index: DocsIndex | null = null;
  const start = async (folder: string, rescanSeconds: number): Promise<DocsIndex> => {
    ensureDocsFolder(folder);
    const started = new DocsIndex({ folder, databaseFile: paths.docsIndex, log });
    // A small folder is indexed before the first request; a big one finishes in the background.
    const firstScan = started.start(rescanSeconds * 1000);
    try {
      await Promise.race([firstScan, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    } catch (error) {
      await started.close();
      throw error;
    }
    servers.set(
      DOCS_SERVER_NAME,
      new HostedServer({
        name: DOCS_SERVER_NAME,
        mode: 'shared',
        maxIsolated: 1,
        requestTimeoutMs: 60_000,
        createUpstream: () => new InProcessUpstream(DOCS_SERVER_NAME, () => createDocsServer(started, HARBOR_VERSION, embeddings)),
        log,
        onCallDone: parts.onCallDone,
      }),
    );
    return started;
  };
  if (config.docs) index = await start(config.docs.folder, config.docs.rescanSeconds);
  return {
    current: () => index,
    async moveTo(folder, sessions) {
      await removeHosted(servers, DOCS_SERVER_NAME, sessions);
      const old = index;
      index = null;
      await old?.close();
      index = await start(folder, config.docs?.rescanSeconds ?? 30);
      return { folder: index.folder };
    },
    async close() {
      await servers.get(DOCS_SERVER_NAME)?.close();
      await index?.close();
    },
  };
}
