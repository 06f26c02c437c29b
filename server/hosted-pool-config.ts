import type { StdioServerConfig } from './config/config-schema.ts';
import type { HostedPoolOptions, HostedServer } from './gateway/hosted-server.ts';
import { replicaEnvironments } from './gateway/replica-env.ts';

/**
 * From a `mcpServers` entry to its pool (upstream-pool.ts): copies, the fair queue and rate-limit
 * back-off. Undefined when the entry asks for none of them: one router straight to one process, as
 * before (no queue on the hot path of servers that did not ask for one). Throws ReplicaEnvError when
 * `replicaEnv` cannot give each copy its own value, so a short key list is a start-up error, not two
 * copies sharing a key.
 */
export function hostedPoolOptions(
  name: string,
  entry: StdioServerConfig,
  hooks: Pick<HostedPoolOptions, 'onQueueWait' | 'onRateLimited'>,
): HostedPoolOptions | undefined {
  if (entry.mode === 'isolated') return undefined;
  if (entry.replicas === 1 && entry.maxConcurrentCalls === undefined && entry.retryTools.length === 0) return undefined;
  replicaEnvironments(name, entry.replicaEnv, entry.replicas);
  return {
    replicas: entry.replicas,
    maxConcurrentCalls: entry.maxConcurrentCalls ?? Infinity,
    maxQueuedCalls: entry.maxQueuedCalls,
    rateLimitPattern: new RegExp(entry.rateLimitPattern, 'i'),
    retryTools: entry.retryTools,
    maxRetries: entry.maxRateLimitRetries,
    ...hooks,
  };
}

/** Throws ReplicaEnvError for the first enabled entry whose replicaEnv cannot give each copy its own value. */
export function checkReplicaEnvs(servers: Record<string, StdioServerConfig>, from: NodeJS.ProcessEnv = process.env): void {
  for (const [name, entry] of Object.entries(servers)) {
    if (!entry.disabled) replicaEnvironments(name, entry.replicaEnv, entry.replicas, from);
  }
}

/** The environment of copy `copy`: the entry's own env plus that copy's replicaEnv values. */
export function copyEnv(name: string, entry: StdioServerConfig, copy: number): Record<string, string> {
  if (Object.keys(entry.replicaEnv).length === 0) return entry.env;
  return { ...entry.env, ...replicaEnvironments(name, entry.replicaEnv, entry.replicas)[copy] };
}

/** The sixth metric for pooled servers: copies not resting out of all copies. */
export function poolRateLimits(servers: Iterable<HostedServer>): Array<{ name: string; remaining: number; limit: number }> {
  const readings: Array<{ name: string; remaining: number; limit: number }> = [];
  for (const server of servers) {
    const pool = server.status().pool;
    if (pool) readings.push({ name: server.name, remaining: pool.copies.filter((c) => c.restingForMs === null).length, limit: pool.copies.length });
  }
  return readings;
}
