import { randomBytes } from 'node:crypto';
import { InputRequiredTranslator } from './input-required.ts';
import type { ModernExchangeOptions } from './modern-exchange.ts';
import { RequestStateCodec } from './request-state.ts';
import { ToolSchemas } from './tool-schemas.ts';

/**
 * Freshness hint on list and read results and on server/discover: a minute. Changes still reach
 * subscribed clients at once through subscriptions/listen; a minute of reuse saves a round trip per
 * list for clients that re-list before every call.
 */
export const MODERN_CACHE_TTL_MS = 60_000;

/**
 * The host's one translator for every modern call: its requestState secret is random per process
 * (32 bytes), so a restart invalidates pending states, which is right: the parked calls died with it.
 * Returns the exchange options and the stop function for the expiry sweep.
 */
export function startModernEra(options: { ttlMs?: number; inputTtlMs?: number } = {}): { options: ModernExchangeOptions; stop: () => void } {
  const translator = new InputRequiredTranslator({
    codec: new RequestStateCodec({ secret: randomBytes(32) }),
    ...(options.inputTtlMs !== undefined ? { ttlMs: options.inputTtlMs } : {}),
  });
  const stop = translator.pending.startSweeping();
  return { options: { translator, toolSchemas: new ToolSchemas({ maxAgeMs: options.ttlMs ?? MODERN_CACHE_TTL_MS }), ttlMs: options.ttlMs ?? MODERN_CACHE_TTL_MS }, stop };
}
