import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve, dirname } from 'node:path';
import type { z } from 'zod';
import { DocsSchema, HarborConfigSchema, type HarborConfig } from './config-schema.ts';
import { resolveEnvReferences } from './env-references.ts';

export class ConfigError extends Error {
  readonly file: string;
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`invalid config ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }
}

/** `mcpServers.github.args[1]`: the path a user can find in their file. */
function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length ? `${formatPath(issue.path)}: ` : '';
      return `${where}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    return `${formatPath(issue.path)}: ${issue.message}`;
  });
}

function expandHome(path: string, baseDir: string): string {
  if (path === '~' || path.startsWith('~/')) return join(homedir(), path.slice(1));
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

export interface LoadedConfig {
  config: HarborConfig;
  /** The file read, or null when none exists and defaults apply. */
  file: string | null;
}

/** The file as written and as validated (defaults filled in); a ConfigError names each bad field. */
export function parseConfigFile(file: string): { raw: Record<string, unknown>; config: HarborConfig } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  const parsed = HarborConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(file, describeIssues(parsed.error));
  return { raw: raw as Record<string, unknown>, config: parsed.data };
}

/**
 * Reads and validates config.json. The file is only ever read here: a bad file is reported with the
 * path of each bad field and left exactly as it is.
 */
export function loadConfig(file: string, defaults: { docsFolder: string }, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  if (!existsSync(file)) {
    const config = HarborConfigSchema.parse({ docs: { folder: defaults.docsFolder } });
    return { config, file: null };
  }
  const { raw, config } = parseConfigFile(file);
  const base = dirname(file);
  // No "docs" field: the built-in server stays, unless the user's own server already took the name.
  if ((raw as { docs?: unknown }).docs === undefined && !config.mcpServers.docs) {
    config.docs = DocsSchema.parse({ folder: defaults.docsFolder });
  }
  if (config.docs) config.docs.folder = expandHome(config.docs.folder, base);
  const unset: string[] = [];
  for (const [name, server] of Object.entries(config.mcpServers)) {
    if (server.cwd) server.cwd = expandHome(server.cwd, base);
    for (const [key, value] of Object.entries(server.env)) {
      const resolved = resolveEnvReferences(value, env);
      server.env[key] = resolved.value;
      for (const variable of resolved.missing) unset.push(`mcpServers.${name}.env.${key}: \${${variable}} is not set in Harbor's environment`);
    }
  }
  if (unset.length) throw new ConfigError(file, unset);
  if (config.mcpServers.docs && config.docs) {
    throw new ConfigError(file, ['mcpServers.docs: the name "docs" is taken by the built-in docs server (see "docs")']);
  }
  return { config, file };
}
