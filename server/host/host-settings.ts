import type { HarborConfig } from '../config/config-schema.ts';
import { loadConfig } from '../config/load-config.ts';
import { ensureHome, harborPaths, type HarborPaths } from '../harbor-home.ts';
import { checkReplicaEnvs } from '../hosted-pool-config.ts';
import { createLogger, type Logger } from '../logger.ts';

export interface HostSettings {
  paths: HarborPaths;
  config: HarborConfig;
  /** Where config edits go (`<home>/config.json` unless given). */
  configFile: string;
  /** The file the config was read from; null when none exists yet (the defaults). */
  file: string | null;
  log: Logger;
}

/** The home, the config and the logger: everything decided before anything opens. */
export function hostSettings(options: { home: string; configFile?: string | undefined; log?: Logger | undefined }): HostSettings {
  const paths = harborPaths(options.home);
  ensureHome(paths);
  const configFile = options.configFile ?? paths.config;
  const { config, file } = loadConfig(configFile, { docsFolder: paths.docs });
  checkReplicaEnvs(config.mcpServers); // a pool short of keys is a start-up error, before anything opens
  return { paths, config, configFile, file, log: options.log ?? createLogger() };
}
