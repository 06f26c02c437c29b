import { readFileSync } from 'node:fs';
import { ensureHome, harborHome, harborPaths, type HarborPaths } from '../../server/harbor-home.ts';
import type { HostControllerOptions } from './host-controller.ts';

/**
 * One set of options for the host controller, whichever face runs it: `harbor serve` and the tray app
 * read the same home ($HARBOR_HOME or the platform's config dir + /harbor), the same config.json and
 * the same environment here, so they share tokens, config and limits (hostMemoryLimitMb included).
 */
export interface ControllerInput {
  env?: NodeJS.ProcessEnv;
  /** `--config`; default `<home>/config.json`. */
  configFile?: string | undefined;
  /** `--port`; default the config's port (or 7837). */
  port?: number | undefined;
}

export interface ControllerSettings {
  paths: HarborPaths;
  /** Everything HostController takes but the logger and, in Electron, how to launch the child. */
  controller: Omit<HostControllerOptions, 'logger'>;
}

/** Resolves the home (created if missing) and the controller's options from the config and the environment. */
export function controllerSettings(input: ControllerInput = {}): ControllerSettings {
  const env = input.env ?? process.env;
  const paths = harborPaths(harborHome(env));
  ensureHome(paths);
  const limitMb = configuredHostLimitMb(input.configFile ?? paths.config);
  const tunnelSeconds = Number(env.HARBOR_TUNNEL_TIMEOUT_SECONDS);
  return {
    paths,
    controller: {
      home: paths.home,
      configFile: input.configFile,
      port: input.port,
      ...(limitMb ? { memoryLimitBytes: limitMb * 1024 * 1024 } : {}),
      ...(tunnelSeconds > 0 ? { tunnel: { readyTimeoutMs: tunnelSeconds * 1000 } } : {}),
    },
  };
}

/**
 * The host's own memory limit from config.json, read without the validator: the host child validates
 * the file and reports any mistake, and this process stays small (no zod schema loaded in the tray app).
 */
export function configuredHostLimitMb(file: string): number | undefined {
  try {
    const value = (JSON.parse(readFileSync(file, 'utf8')) as { hostMemoryLimitMb?: unknown }).hostMemoryLimitMb;
    return typeof value === 'number' && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
