import { join } from 'node:path';
import type { BoundedCache } from '../cache/bounded-cache.ts';
import type { HarborConfig, StdioServerConfig } from '../config/config-schema.ts';
import { HostedServer } from '../gateway/hosted-server.ts';
import type { LivenessOptions } from '../gateway/liveness-probe.ts';
import { logFileName, StdioUpstream } from '../gateway/stdio-upstream.ts';
import { ToolResultCache } from '../gateway/tool-cache.ts';
import type { Upstream } from '../gateway/upstream.ts';
import type { CallEvent } from '../gateway/upstream-router.ts';
import type { HarborPaths } from '../harbor-home.ts';
import { copyEnv, hostedPoolOptions } from '../hosted-pool-config.ts';
import type { SessionRegistry } from '../http/session-registry.ts';
import type { Logger } from '../logger.ts';
import type { HostObservability } from '../metrics/host-observability.ts';
import { RotatingLog } from '../supervision/rotating-log.ts';
import type { Supervisor } from '../supervision/supervisor.ts';

/** The sessions a removed server's teammates hold: the HTTP server's, handed to the admin API per request. */
export type Sessions = Pick<SessionRegistry, 'all' | 'end'>;

/** Takes a server out of the catalog: its sessions end, then it closes. False when there was none. */
export async function removeHosted(servers: Map<string, HostedServer>, name: string, sessions: Sessions): Promise<boolean> {
  const hosted = servers.get(name);
  if (!hosted) return false;
  servers.delete(name);
  for (const session of [...sessions.all()]) if (session.server === hosted) await sessions.end(session.id, 'server removed');
  await hosted.close();
  return true;
}

export interface StdioServers {
  /** Builds the server of one `mcpServers` entry and puts it in the catalog. */
  add(name: string, entry: StdioServerConfig): HostedServer;
  /** Spawns every shared upstream now: a teammate's first call should not wait for `npx` to start. */
  warmUp(): void;
  /** Closes the servers built here still in the catalog (the docs part closes its own). */
  close(): Promise<void>;
}

export interface StdioServersParts {
  servers: Map<string, HostedServer>;
  config: HarborConfig;
  paths: HarborPaths;
  log: Logger;
  toolCache: BoundedCache<unknown> | null;
  observability: HostObservability;
  onCallDone: (server: string, event: CallEvent) => void;
  memorySampleMs?: number | undefined;
  liveness?: Partial<LivenessOptions> | undefined;
}

/** The `mcpServers` of config.json as hosted servers in `servers`, supervised and observed. */
export function stdioServers(parts: StdioServersParts): StdioServers {
  const { servers, log } = parts;
  // Which supervisor runs each upstream made here: a frozen one's restart is noted for the health sentences.
  const supervisors = new WeakMap<Upstream, Supervisor>();
  const warmUp = (hosted: HostedServer) => hosted.warmUp().catch((error: Error) => log.error({ server: hosted.name, err: error.message }, 'server failed to start'));
  const added = new WeakSet<HostedServer>();
  const add = (name: string, entry: StdioServerConfig) => {
    const hosted = stdioServer(name, entry, parts, supervisors);
    servers.set(name, hosted);
    added.add(hosted);
    return hosted;
  };
  for (const [name, entry] of Object.entries(parts.config.mcpServers)) if (!entry.disabled) add(name, entry);
  return {
    add: (name, entry) => {
      const hosted = add(name, entry);
      void warmUp(hosted);
      return hosted;
    },
    warmUp: () => {
      for (const hosted of servers.values()) if (added.has(hosted)) void warmUp(hosted);
    },
    close: async () => {
      await Promise.all([...servers.values()].filter((s) => added.has(s)).map((s) => s.close()));
    },
  };
}

/** One entry of `mcpServers`: its processes supervised under its limits, observed, cached and pooled as configured. */
function stdioServer(name: string, entry: StdioServerConfig, parts: StdioServersParts, supervisors: WeakMap<Upstream, Supervisor>): HostedServer {
  const { paths, log, toolCache, observability } = parts;
  // Isolated: one process per session, every one copy 0; they write through one log (one writer, one
  // rotation) rather than a file each, which would pile up a file per session ever opened.
  const sessionsLog = entry.mode === 'isolated' ? new RotatingLog({ file: join(paths.logs, logFileName(name, 0)) }) : null;
  return new HostedServer({
    name,
    mode: entry.mode,
    maxIsolated: entry.maxIsolated,
    requestTimeoutMs: entry.requestTimeoutSeconds * 1000,
    createUpstream: (copy) => {
      const upstream = new StdioUpstream({
        name,
        command: entry.command,
        args: entry.args,
        env: copyEnv(name, entry, copy),
        cwd: entry.cwd,
        memoryLimitBytes: entry.memoryLimitMb * 1024 * 1024,
        maxCrashes: entry.restart.maxCrashes,
        windowMs: entry.restart.windowSeconds * 1000,
        maxLineBytes: entry.maxLineBytes,
        ...(sessionsLog ? { sharedLog: sessionsLog } : { logDir: paths.logs, copy }),
        log,
        ...(parts.memorySampleMs ? { memorySampleMs: parts.memorySampleMs } : {}),
      });
      supervisors.set(upstream, upstream.supervisor);
      observability.watch(name, upstream.supervisor);
      return upstream;
    },
    log,
    ...(sessionsLog ? { onClosed: () => sessionsLog.close() } : {}),
    onCallDone: parts.onCallDone,
    liveness: parts.liveness,
    // A server frozen past the probe's bound holds every caller until the per-call timeout (300 s):
    // a graceful restart fails those calls at once with the reason and brings the server back.
    restartUpstream: (upstream, reason) => {
      const supervisor = supervisors.get(upstream);
      if (!supervisor) return;
      observability.noteRestart(supervisor, 'unresponsive');
      void supervisor.restart(reason);
    },
    toolCache: entry.cache && toolCache ? new ToolResultCache(toolCache, name, { tools: entry.cache.tools, ttlMs: entry.cache.ttlSeconds * 1000 }) : undefined,
    pool: hostedPoolOptions(name, entry, {
      onQueueWait: (ms) => observability.metrics.observeQueueWait(name, ms),
      onRateLimited: (copy) => observability.metrics.countRateLimited(name, copy),
    }),
  });
}
