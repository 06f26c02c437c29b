import { isDeepStrictEqual } from 'node:util';
import { diffConfig, isEmptyDiff } from '../config/config-diff.ts';
import type { DocsConfig, HarborConfig } from '../config/config-schema.ts';
import { watchConfig, type ConfigUpdate, type ConfigWatchOptions } from '../config/config-watch.ts';
import { loadConfig } from '../config/load-config.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { HarborPaths } from '../harbor-home.ts';
import { checkReplicaEnvs } from '../hosted-pool-config.ts';
import type { Logger } from '../logger.ts';
import type { HostObservability } from '../metrics/host-observability.ts';
import type { AdminEvents } from './admin-events.ts';
import type { DocsPart } from './docs-part.ts';
import type { Sessions, StdioServers } from './hosted-servers.ts';
import { reconcileServers } from './reconcile-servers.ts';

/** The docs server moves folders live; turning it on or off, or its other settings, wait for a restart. */
function onlyFolderMoved(before: DocsConfig | undefined, after: DocsConfig | undefined): boolean {
  return before !== undefined && after !== undefined && isDeepStrictEqual({ ...before, folder: '' }, { ...after, folder: '' });
}

/** Test hooks of the watch: its quiet time and poll interval. */
export type LiveConfigHooks = Pick<ConfigWatchOptions, 'debounceMs' | 'pollMs'>;

/**
 * config.json edited while the host runs: each new version validated like at start (a refused one is
 * logged with its field paths and stays an amber health reason; the running config stays), then
 * applied server by server (reconcile-servers.ts). Settings read only at start are logged as needing
 * a restart and not applied.
 */
export function watchLiveConfig(parts: {
  configFile: string;
  paths: HarborPaths;
  config: HarborConfig;
  servers: Map<string, HostedServer>;
  stdio: StdioServers;
  docs: DocsPart;
  sessions: Sessions;
  events: AdminEvents;
  observability: HostObservability;
  log: Logger;
  hooks?: LiveConfigHooks | undefined;
}): { close(): Promise<void> } {
  const { configFile, log, events, observability } = parts;
  const start = parts.config;
  // What is applied: the servers and docs of the last accepted version, the start-only settings of the
  // start (so a port edit keeps being reported until the restart that applies it).
  let running = start;
  // One version applied at a time, in the order read: a close and start must not interleave with the next.
  let applying = Promise.resolve();
  const apply = async (next: HarborConfig) => {
    const diff = diffConfig(running, next);
    const docsRestart = diff.docs !== undefined && !onlyFolderMoved(running.docs, diff.docs.next);
    running = { ...start, mcpServers: next.mcpServers, docs: next.docs };
    observability.setConfigRefused(null);
    if (isEmptyDiff(diff)) return;
    await reconcileServers(diff, parts);
    const restartOnly = [...diff.needsRestart, ...(docsRestart ? ['docs'] : [])];
    if (restartOnly.length) {
      log.warn({ fields: restartOnly }, `config.json: ${restartOnly.join(', ')} changed; applied at the next restart of Harbor`);
      events.publish({ type: 'server', action: 'needs-restart', fields: restartOnly });
    }
  };
  const onUpdate = (update: ConfigUpdate) => {
    if (update.error) {
      const problems = update.error.problems.join('; ');
      log.warn({ file: configFile, problems: update.error.problems }, `config.json edit refused, still serving the previous config: ${problems}`);
      observability.setConfigRefused(problems);
      events.publish({ type: 'server', action: 'config-refused', problems: update.error.problems });
      return;
    }
    applying = applying.then(() => apply(update.config)).catch((error: Error) => log.error({ err: error.message }, 'config.json: applying the edit failed'));
  };
  const watch = watchConfig({
    file: configFile,
    load: () => {
      const { config } = loadConfig(configFile, { docsFolder: parts.paths.docs });
      checkReplicaEnvs(config.mcpServers);
      return config;
    },
    onUpdate,
    ...parts.hooks,
  });
  return {
    // An edit being applied finishes first: the servers part closes after this one, not under it.
    close: async () => {
      watch.close();
      await applying;
    },
  };
}
