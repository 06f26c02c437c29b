import { META_KEYS } from './protocol.ts';

/** The part of an upstream's (cached) initialize result that server/discover republishes. */
export interface UpstreamInitializeResult {
  capabilities: Record<string, unknown>;
  serverInfo: Record<string, unknown>;
  instructions?: string;
}

/**
 * Capabilities Harbor passes on to modern callers. `logging` is dropped: the modern revision sets
 * the level per request and Harbor does not yet map it onto a legacy upstream's logging/setLevel.
 * `resources.subscribe` stays: subscriptions/listen serves resource subscriptions (listen-bridge.ts).
 * `tasks` (2025-11-25 experimental) is not part of the core 2026 protocol.
 */
function modernCapabilities(capabilities: Record<string, unknown>): Record<string, unknown> {
  const { logging: _logging, tasks: _tasks, ...rest } = capabilities;
  return rest;
}

/**
 * A server/discover result for one hosted server, built from the upstream's initialize result.
 * The supported list names every revision Harbor serves on this endpoint, legacy ones included, so a
 * dual-era client can pick; ttlMs is short because an upstream restart may change its capabilities.
 */
export function discoverResult(
  init: UpstreamInitializeResult,
  supportedVersions: readonly string[],
  ttlMs: number,
): Record<string, unknown> {
  const result: Record<string, unknown> = {
    resultType: 'complete',
    supportedVersions: [...supportedVersions],
    capabilities: modernCapabilities(init.capabilities ?? {}),
    _meta: { [META_KEYS.serverInfo]: init.serverInfo },
    ttlMs,
    cacheScope: 'public',
  };
  if (typeof init.instructions === 'string' && init.instructions.length > 0) result.instructions = init.instructions;
  return result;
}
