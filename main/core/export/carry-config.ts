import { basename, isAbsolute } from 'node:path';
import { isEnvReference } from '../../../server/config/env-references.ts';

/** The bundle's config.json, what it needs from the environment, and what will not run as is. */
export interface CarriedConfig {
  config: Record<string, unknown>;
  /** Environment variables the bundle's config references, each with where its value came from. */
  variables: Array<{ name: string; from: string }>;
  warnings: string[];
  /** A hosted server runs with uvx/uv/python: the image gets Python and uv. */
  needsPython: boolean;
}

/** Where the container keeps Harbor's state and the docs folder (a volume in compose and k8s). */
export const CONTAINER_HOME = '/var/lib/harbor';

const NODE_COMMANDS = new Set(['node', 'npx', 'npm']);
const PYTHON_COMMANDS = new Set(['uvx', 'uv', 'python', 'python3']);
// Harbor's own fields that mean the same in a container; port, host and paths are the container's.
const CARRIED_FIELDS = ['maxBodyBytes', 'sessionTtlSeconds', 'responseMode', 'allowedOrigins', 'cache', 'limits', 'metrics', 'alerts', 'audit'];
/** Shapes of well-known secrets, to warn when one sits in args (which are carried as they are). */
const SECRET_SHAPES = /^(sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|xox[abpr]-[\w-]{10,}|hbr_[\w-]{20,}|AKIA[0-9A-Z]{16})$|^--?[\w-]*(token|secret|password|api-?key)[\w-]*=.+/i;

const looksLikeLaptopPath = (value: string) => isAbsolute(value) || value.startsWith('~') || /^[A-Za-z]:[\\/]/.test(value);

/** `GITHUB_TOKEN` when only one server uses that key, else `GITHUB_GITHUB_TOKEN` (server first). */
function variableNames(servers: Record<string, { env?: Record<string, string> }>): Map<string, string> {
  const keyCount = new Map<string, number>();
  for (const entry of Object.values(servers)) for (const key of Object.keys(entry.env ?? {})) keyCount.set(key, (keyCount.get(key) ?? 0) + 1);
  const names = new Map<string, string>();
  const envName = (text: string) => text.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^(\d)/, '_$1');
  for (const [server, entry] of Object.entries(servers)) {
    for (const key of Object.keys(entry.env ?? {})) {
      names.set(`${server}\0${key}`, envName(keyCount.get(key)! > 1 ? `${server}_${key}` : key));
    }
  }
  return names;
}

interface RawServer {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  replicaEnv?: Record<string, string[] | { env: string }>;
  [field: string]: unknown;
}

function carryServer(name: string, entry: RawServer, names: Map<string, string>, out: CarriedConfig): Record<string, unknown> {
  const { cwd, env = {}, replicaEnv, ...rest } = entry;
  const where = `mcpServers.${name}`;
  const carriedEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (isEnvReference(value)) {
      carriedEnv[key] = value;
      out.variables.push({ name: value.slice(2, -1), from: `${where}.env.${key} (already a reference)` });
      continue;
    }
    // Every env value is treated as a secret: a LOG_LEVEL moved to the environment costs nothing,
    // a token left in the file leaks.
    const variable = names.get(`${name}\0${key}`)!;
    carriedEnv[key] = `\${${variable}}`;
    out.variables.push({ name: variable, from: `${where}.env.${key}` });
  }
  const command = entry.command;
  if (looksLikeLaptopPath(command)) {
    out.warnings.push(`${where}: command "${command}" is a path on this machine; it will not exist in the container (install it in the Dockerfile or use npx/uvx)`);
  } else if (PYTHON_COMMANDS.has(basename(command))) {
    out.needsPython = true;
  } else if (!NODE_COMMANDS.has(basename(command))) {
    out.warnings.push(`${where}: command "${command}" is not in the image (it has node, npx, npm, and uvx/python when a server needs them); add it to the Dockerfile`);
  }
  for (const [i, arg] of (entry.args ?? []).entries()) {
    if (looksLikeLaptopPath(arg)) out.warnings.push(`${where}.args[${i}]: "${arg}" is a path on this machine; copy or mount it into the container and change the path`);
    if (SECRET_SHAPES.test(arg)) out.warnings.push(`${where}.args[${i}]: looks like a secret and is carried into config.json as is; move it to "env" and export again`);
  }
  const carriedReplicaEnv = replicaEnv ? carryReplicaEnv(name, replicaEnv, out) : undefined;
  if (cwd !== undefined) out.warnings.push(`${where}.cwd: "${cwd}" is a folder on this machine; left out of the bundle (the server starts in ${CONTAINER_HOME})`);
  return { ...rest, ...(Object.keys(carriedEnv).length ? { env: carriedEnv } : {}), ...(carriedReplicaEnv ? { replicaEnv: carriedReplicaEnv } : {}) };
}

/** Per-copy values of a pooled server: a listed array becomes `{"env": VAR}` (comma-separated values). */
function carryReplicaEnv(server: string, replicaEnv: Record<string, string[] | { env: string }>, out: CarriedConfig): Record<string, { env: string }> {
  const carried: Record<string, { env: string }> = {};
  for (const [key, source] of Object.entries(replicaEnv)) {
    const where = `mcpServers.${server}.replicaEnv.${key}`;
    if (Array.isArray(source)) {
      const variable = `${server}_${key}_values`.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
      carried[key] = { env: variable };
      out.variables.push({ name: variable, from: `${where} (comma-separated, one value per copy)` });
    } else {
      carried[key] = source;
      out.variables.push({ name: source.env, from: `${where} (already a reference)` });
    }
  }
  return carried;
}

function carryDocs(docs: unknown, out: CarriedConfig): unknown {
  if (docs === false) return false;
  const raw = (docs ?? {}) as { folder?: string; embeddings?: Record<string, unknown>; [field: string]: unknown };
  const carried: Record<string, unknown> = { ...raw, folder: `${CONTAINER_HOME}/docs` };
  out.warnings.push(`docs: ${raw.folder ? `the folder ${raw.folder}` : 'the default docs folder'} stays on this machine; copy its files into ${CONTAINER_HOME}/docs in the container (a volume)`);
  if (raw.embeddings) {
    const { apiKeys = [], ...embeddings } = raw.embeddings as { apiKeys?: string[]; apiKeysEnv?: string };
    if (embeddings.apiKeysEnv) out.variables.push({ name: embeddings.apiKeysEnv, from: 'docs.embeddings.apiKeysEnv' });
    if ((apiKeys as string[]).length) {
      if (!embeddings.apiKeysEnv) embeddings.apiKeysEnv = 'HARBOR_EMBEDDINGS_API_KEYS';
      out.variables.push({ name: embeddings.apiKeysEnv, from: 'docs.embeddings.apiKeys (comma-separated)' });
    }
    carried.embeddings = embeddings;
  }
  return carried;
}

/**
 * The laptop's config.json as a container's: hosted servers carried over with every env value
 * replaced by a `${VAR}` reference (resolved by the host from its environment), paths of this
 * machine reported. `raw` is the file as written (validated by the caller), not the defaults.
 */
export function carryConfig(raw: Record<string, unknown>, port: number): CarriedConfig {
  const out: CarriedConfig = { config: {}, variables: [], warnings: [], needsPython: false };
  const servers = (raw.mcpServers ?? {}) as Record<string, RawServer>;
  const names = variableNames(servers);
  const mcpServers: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(servers)) mcpServers[name] = carryServer(name, entry, names, out);
  const config: Record<string, unknown> = { mcpServers, docs: carryDocs(raw.docs, out), port, host: '0.0.0.0' };
  for (const field of CARRIED_FIELDS) if (raw[field] !== undefined) config[field] = raw[field];
  out.config = config;
  // One variable referenced twice (two servers sharing a reference) is one line in .env.
  out.variables = [...new Map(out.variables.map((v) => [v.name, v])).values()];
  return out;
}
