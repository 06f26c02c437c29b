import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.ts';
import { createContinuationForwarder, type ReplicaLookup } from './continuation-forward.ts';
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

export interface ModernEraOptions {
  ttlMs?: number;
  inputTtlMs?: number;
  /** How long an input_required round waits for more of a call's server→client requests (DEFAULT_COALESCE_MS). */
  coalesceMs?: number;
  /**
   * Replicas: the requestState key they share (HARBOR_STATE_SECRET or the database's), this
   * replica's name and the directory of the others, so a continuation landing on the wrong replica
   * is forwarded to the one holding its call. Without it the key is random per process (32 bytes): a
   * restart invalidates pending states, which is right, since the parked calls died with it.
   */
  replicas?: { secret: Buffer; replica: string; directory: ReplicaLookup | null; log?: Logger };
}

/**
 * The host's one translator for every modern call. Returns the exchange options and the stop
 * function for the expiry sweep.
 */
export function startModernEra(options: ModernEraOptions = {}): { options: ModernExchangeOptions; stop: () => void } {
  const shared = options.replicas;
  const codec = new RequestStateCodec({ secret: shared?.secret ?? randomBytes(32) });
  const translator = new InputRequiredTranslator({
    codec,
    ...(options.inputTtlMs !== undefined ? { ttlMs: options.inputTtlMs } : {}),
    ...(options.coalesceMs !== undefined ? { coalesceMs: options.coalesceMs } : {}),
    ...(shared ? { replica: shared.replica } : {}),
  });
  const stop = translator.pending.startSweeping();
  const forward = shared
    ? createContinuationForwarder({ replica: shared.replica, codec, directory: shared.directory, ...(shared.log ? { log: shared.log } : {}) })
    : undefined;
  return { options: { translator, toolSchemas: new ToolSchemas({ maxAgeMs: options.ttlMs ?? MODERN_CACHE_TTL_MS }), ttlMs: options.ttlMs ?? MODERN_CACHE_TTL_MS, ...(forward ? { forward } : {}) }, stop };
}
