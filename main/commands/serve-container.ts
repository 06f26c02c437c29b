import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { parsePublicUrl, PublicUrlError, signInPossibleAt } from '../../server/access/public-url.ts';
import { HashedTokensSchema } from '../../server/auth/token-transfer.ts';
import { describeIssues, parseConfigFile } from '../../server/config/load-config.ts';
import { startHost, type Host } from '../../server/host.ts';
import { createLogger, type Logger } from '../../server/logger.ts';
import { logUnhandledRejections } from '../../server/unhandled-rejections.ts';
import { importTeammates } from '../../server/open-store.ts';
import { homePaths, UsageError } from './common.ts';

export interface ContainerSettings {
  bindHost: string;
  port: number | undefined;
  replica: string;
  /** How long SIGTERM lets in-flight calls finish. */
  drainMs: number;
  heartbeatMs: number | undefined;
  adminSecret: string | undefined;
  allowedHosts: string[];
  /** HARBOR_REPLICA_URL: where the other replicas reach this one (forwarded continuations). */
  replicaUrl: string | undefined;
  /** HARBOR_PUBLIC_URL: where teammates reach nginx (or the ingress): OAuth metadata and connection URLs name it. */
  publicUrl: string | undefined;
}

function positiveSeconds(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!(value > 0)) throw new UsageError(`${name} must be a positive number of seconds, got "${raw}"`);
  return value * 1000;
}

function replicaUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`HARBOR_REPLICA_URL must be a URL like http://harbor-1:7837, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`HARBOR_REPLICA_URL must be http:// or https://, got "${raw}"`);
  return url.origin;
}

function publicUrl(raw: string | undefined): string | undefined {
  try {
    return parsePublicUrl(raw) ?? undefined;
  } catch (error) {
    if (error instanceof PublicUrlError) throw new UsageError(error.message);
    throw error;
  }
}

/** Everything container mode takes from the environment (the orchestrator's way to configure). */
export function containerSettings(env: NodeJS.ProcessEnv, portFlag: number | undefined): ContainerSettings {
  let port = portFlag;
  if (port === undefined && env.PORT) {
    port = Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`PORT must be 0-65535, got "${env.PORT}"`);
  }
  // The replica's name also prefixes session ids (server/http/session-id.ts): lower-case DNS label.
  const replica = (env.HARBOR_REPLICA || hostname()).toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 63) || 'harbor';
  return {
    bindHost: env.HARBOR_HOST || '0.0.0.0',
    port,
    replica,
    drainMs: positiveSeconds(env, 'HARBOR_DRAIN_SECONDS') ?? 10_000,
    heartbeatMs: positiveSeconds(env, 'HARBOR_HEARTBEAT_SECONDS'),
    adminSecret: env.HARBOR_ADMIN_SECRET || undefined,
    allowedHosts: (env.HARBOR_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    replicaUrl: replicaUrl(env.HARBOR_REPLICA_URL),
    publicUrl: publicUrl(env.HARBOR_PUBLIC_URL),
  };
}

/**
 * Teammates exported with `harbor export --with-tokens`, added once each to the store the host opens:
 * the shared PostgreSQL with HARBOR_DATABASE_URL (or store.url), else the home's SQLite file.
 */
async function importTokens(file: string, options: { paths: ReturnType<typeof homePaths>; configUrl: string | undefined }, log: Logger): Promise<void> {
  if (!existsSync(file)) return;
  const parsed = HashedTokensSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new UsageError(`${file}: ${describeIssues(parsed.error).join('; ')}`);
  const added = await importTeammates({ paths: options.paths, configUrl: options.configUrl, env: process.env }, parsed.data);
  log.info({ file, added, teammates: parsed.data.teammates.length }, 'teammates imported');
}

const inFlightCalls = (host: Host) =>
  [...host.servers.values()].reduce((sum, s) => sum + s.status().upstreams.reduce((n, u) => n + u.inFlight, 0), 0);

/**
 * SIGTERM: stop accepting connections (the load balancer's next try goes to another replica), let
 * the calls already running finish for up to `drainMs`, then close. Polled, because in-flight calls
 * live in each server's router and the count is all that is needed here.
 */
async function drainAndClose(host: Host, drainMs: number, log: Logger): Promise<void> {
  host.stopAccepting();
  const deadline = Date.now() + drainMs;
  while (inFlightCalls(host) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  const left = inFlightCalls(host);
  if (left > 0) log.warn({ inFlight: left }, 'calls still running at the end of the drain; closing');
  await host.close();
}

/**
 * Sign-in on, behind a proxy that Harbor cannot name (or over plain http): what to say once at start,
 * since teammates would only see a 404; null when sign-in can work (or is off).
 */
export function signInAddressWarning(auth: string, publicUrl: string | undefined): string | null {
  if (auth === 'tokens') return null;
  if (!publicUrl) return 'sign-in is on but HARBOR_PUBLIC_URL is unset: behind nginx teammates cannot sign in (only this machine\'s loopback can); set it to the URL they reach, e.g. https://mcp.example.com';
  if (!signInPossibleAt(publicUrl)) return 'sign-in needs HARBOR_PUBLIC_URL to be https:// (OAuth refuses a plain-http issuer other than localhost); static tokens keep working';
  return null;
}

function warnAboutSignIn(auth: string, publicUrl: string | undefined, log: Logger): void {
  const warning = signInAddressWarning(auth, publicUrl);
  if (warning) log.warn({ auth, ...(publicUrl ? { publicUrl } : {}) }, warning);
}

/**
 * `harbor serve --container`: the host in this process, no tunnel and no host child (the
 * orchestrator restarts the container), bound to HARBOR_HOST/PORT, JSON logs on stdout with the
 * replica's name, the admin API reachable only with HARBOR_ADMIN_SECRET.
 */
export async function serveContainer(options: { config?: string; port?: number }): Promise<void> {
  const settings = containerSettings(process.env, options.port);
  // Hosted servers inherit this process's environment: the admin secret must not reach them.
  delete process.env.HARBOR_ADMIN_SECRET;
  process.env.HARBOR_REPLICA = settings.replica;
  const paths = homePaths();
  const configFile = options.config ?? paths.config;
  const log = createLogger({ name: 'harbor', stdout: true }).child({ replica: settings.replica });
  logUnhandledRejections(log);
  // store.url is read here only when HARBOR_DATABASE_URL is unset (it wins, as in the host).
  const configUrl = process.env.HARBOR_DATABASE_URL || !existsSync(configFile) ? undefined : parseConfigFile(configFile).config.store.url;
  await importTokens(process.env.HARBOR_TOKENS_FILE ?? join(dirname(configFile), 'tokens.json'), { paths, configUrl }, log);
  const host = await startHost({
    home: paths.home,
    configFile,
    bindHost: settings.bindHost,
    ...(settings.port !== undefined ? { port: settings.port } : {}),
    ...(settings.heartbeatMs ? { heartbeatMs: settings.heartbeatMs } : {}),
    ...(settings.replicaUrl ? { replicaUrl: settings.replicaUrl } : {}),
    ...(settings.publicUrl ? { publicUrl: settings.publicUrl } : {}),
    // No secret given: a random one nobody holds, so every admin request is refused (the API is off).
    adminSecret: settings.adminSecret ?? randomBytes(32).toString('base64url'),
    log,
  });
  for (const name of settings.allowedHosts) host.allowHost(name);
  warnAboutSignIn(host.config.auth, settings.publicUrl, log);
  log.info({ url: host.url, publicUrl: settings.publicUrl ?? null, servers: [...host.servers.keys()], admin: settings.adminSecret !== undefined }, 'container ready');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, drainMs: settings.drainMs }, 'stopping: draining in-flight calls');
    // Kept referenced: the process ends within the drain plus the close's own bound.
    setTimeout(() => process.exit(1), settings.drainMs + 5000);
    drainAndClose(host, settings.drainMs, log).then(
      () => process.exit(0),
      (error: Error) => {
        log.error({ err: error.message }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
