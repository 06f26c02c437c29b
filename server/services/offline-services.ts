import { parsePublicUrl } from '../access/public-url.ts';
import { loadConfig } from '../config/load-config.ts';
import type { HarborConfig } from '../config/config-schema.ts';
import { DOCS_SERVER_NAME } from '../gateway/server-name.ts';
import type { HarborPaths } from '../harbor-home.ts';
import { databaseUrl, openAuditStore, openSignInRevoker, openTokenStore } from '../open-store.ts';
import { activityService, type ActivityService } from './activity.ts';
import { teammatesService, type TeammatesService } from './teammates.ts';

/**
 * The services for the CLI when no host answers: the same teammates and activity services the
 * admin API calls, over the store opened through open-store.ts (the home's SQLite file, or the
 * shared PostgreSQL with HARBOR_DATABASE_URL / store.url). Whatever `use` changed is stored before
 * the promise resolves; nothing stays open.
 */
export interface OfflineOptions {
  paths: HarborPaths;
  env?: NodeJS.ProcessEnv;
}

/** Teammates over the store, with bundles for the servers config.json has the host serve. */
export async function withOfflineTeammates<T>(options: OfflineOptions, use: (teammates: TeammatesService) => T | Promise<T>): Promise<T> {
  const config = lazyConfig(options);
  const store = { paths: options.paths, configUrl: configStoreUrl(options, config), ...envOf(options) };
  const { tokens, close } = await openTokenStore(store);
  try {
    return await use(
      teammatesService({
        tokens,
        serverNames: () => servedNames(config()),
        // No tunnel without a host: the proxy's address in a container (HARBOR_PUBLIC_URL), else the loopback one the host will listen on.
        baseUrl: () => parsePublicUrl((options.env ?? process.env).HARBOR_PUBLIC_URL) ?? `http://127.0.0.1:${config().port}`,
        // Their sign-ins go with their token, as through the host (opened only for a revocation).
        signIns: { revokeTeammate: (name) => revokeSignIns(store, name) },
      }),
    );
  } finally {
    await close();
  }
}

async function revokeSignIns(store: Parameters<typeof openSignInRevoker>[0], name: string): Promise<number> {
  const signIns = await openSignInRevoker(store);
  try {
    return await signIns.revokeTeammate(name);
  } finally {
    await signIns.close();
  }
}

/** The audit log over the store. */
export async function withOfflineActivity<T>(options: OfflineOptions, use: (activity: ActivityService) => T | Promise<T>): Promise<T> {
  const { audit, close } = await openAuditStore({ paths: options.paths, configUrl: configStoreUrl(options, lazyConfig(options)), ...envOf(options) });
  try {
    return await use(activityService(audit));
  } finally {
    await close();
  }
}

/** Tokens and the audit log are kept in a PostgreSQL shared by replicas, not in this home's file. */
export function usesSharedStore(options: OfflineOptions): boolean {
  return databaseUrl(configStoreUrl(options, lazyConfig(options)), options.env ?? process.env) !== null;
}

/** What the host would serve from this config: the built-in docs server, then every enabled entry. */
export function servedNames(config: HarborConfig): string[] {
  const stdio = Object.entries(config.mcpServers).filter(([, entry]) => !entry.disabled).map(([name]) => name);
  return [...(config.docs ? [DOCS_SERVER_NAME] : []), ...stdio];
}

/** config.json read once, and only when something needs it. */
function lazyConfig(options: OfflineOptions): () => HarborConfig {
  let config: HarborConfig | undefined;
  return () => (config ??= loadConfig(options.paths.config, { docsFolder: options.paths.docs }, options.env ?? process.env).config);
}

/**
 * `store.url` of config.json, for the CLI as for the host; with HARBOR_DATABASE_URL (which wins)
 * the file is not read at all, so a container's CLI works without one.
 */
function configStoreUrl(options: OfflineOptions, config: () => HarborConfig): string | undefined {
  if ((options.env ?? process.env).HARBOR_DATABASE_URL) return undefined;
  return config().store.url;
}

function envOf(options: OfflineOptions): { env?: NodeJS.ProcessEnv } {
  return options.env ? { env: options.env } : {};
}
