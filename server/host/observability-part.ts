import type { HarborConfig } from '../config/config-schema.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import { poolRateLimits } from '../hosted-pool-config.ts';
import type { Logger } from '../logger.ts';
import { alertRules, type AlertRule } from '../metrics/alert-rules.ts';
import { HostObservability, type ShareStatus } from '../metrics/host-observability.ts';
import type { AdminEvents } from './admin-events.ts';
import type { HostAddress } from './host-address.ts';
import type { HostStores } from './stores.ts';

export interface HostObservabilityPart {
  observability: HostObservability;
  /** The alert rules in effect (config.json's `alerts` applied), which status also reports. */
  rules: AlertRule[];
}

/**
 * Metrics, alerts, history and health, with alerts and health changes published as admin events.
 * Nothing runs until start() (after listen); the HTTP part hands it what to sample (watchHttp).
 */
export function hostObservability(parts: {
  config: HarborConfig;
  stores: HostStores;
  servers: Map<string, HostedServer>;
  address: HostAddress;
  events: AdminEvents;
  log: Logger;
  sampleMs?: number | undefined;
}): HostObservabilityPart {
  const { config, stores, servers, address, events } = parts;
  const rules = alertRules(config.alerts);
  const observability = new HostObservability({
    servers,
    db: stores.store.db,
    history: stores.store.history,
    rules,
    hostMemoryLimitBytes: config.hostMemoryLimitMb * 1024 * 1024,
    share: (): ShareStatus => ({ state: address.share.state, shared: address.share.state !== 'off', ...(address.share.lastError ? { detail: address.share.lastError } : {}) }),
    log: parts.log,
    caches: () =>
      stores.caches().map((c) => {
        const stats = c.stats();
        return { name: c.namespace, hits: stats.hits.memory + stats.hits.disk, misses: stats.misses };
      }),
    rateLimits: () => {
      const fraction = stores.embeddings?.rateLimitRemainingFraction();
      const pools = poolRateLimits(servers.values());
      return fraction === null || fraction === undefined ? pools : [{ name: 'embeddings', remaining: fraction * 1000, limit: 1000 }, ...pools];
    },
    ...(parts.sampleMs ? { sampleMs: parts.sampleMs } : {}),
  });
  if (stores.store.metricsLabel) observability.metrics.registry.setDefaultLabels({ replica: stores.store.metricsLabel });
  observability.on('alert', (event) => events.publish({ type: 'alert', ...event }));
  observability.on('health', (health) => events.publish({ type: 'health', ...health }));
  return { observability, rules };
}
