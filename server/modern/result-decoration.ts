import { CACHEABLE_METHODS, META_KEYS } from './protocol.ts';

export interface CachePolicy {
  /** Freshness hint for list and read results, milliseconds (>= 0). */
  ttlMs: number;
  /**
   * "private" when the answer may depend on the teammate: an isolated upstream (its state is one
   * teammate's), or any resources/read (a hosted server may read the teammate's own files). Lists of a
   * shared upstream are the same for every teammate: "public".
   */
  cacheScope: 'public' | 'private';
}

export interface DecorationContext {
  method: string;
  policy: CachePolicy;
  serverInfo?: Record<string, unknown> | undefined;
}

/** The cache scope Harbor gives an answer (see CachePolicy.cacheScope). */
export function cacheScopeFor(method: string, isolated: boolean): 'public' | 'private' {
  if (isolated || method === 'resources/read') return 'private';
  return 'public';
}

/**
 * Turns a legacy upstream's complete result into a modern one: `resultType: "complete"` always,
 * caching hints on cacheable methods, Harbor's upstream's identity in `_meta`. The upstream's own
 * fields win where it already speaks modern (a value it set is kept). Never mutates its input.
 */
export function decorateResult(result: unknown, context: DecorationContext): Record<string, unknown> {
  const base = typeof result === 'object' && result !== null && !Array.isArray(result) ? (result as Record<string, unknown>) : {};
  const decorated: Record<string, unknown> = { ...base, resultType: typeof base.resultType === 'string' ? base.resultType : 'complete' };
  if (CACHEABLE_METHODS.has(context.method) && decorated.resultType === 'complete') {
    if (!(typeof base.ttlMs === 'number' && Number.isInteger(base.ttlMs) && base.ttlMs >= 0)) decorated.ttlMs = context.policy.ttlMs;
    if (base.cacheScope !== 'public' && base.cacheScope !== 'private') decorated.cacheScope = context.policy.cacheScope;
    // An upstream may not say "public" for something Harbor knows is per-teammate.
    if (context.policy.cacheScope === 'private') decorated.cacheScope = 'private';
  }
  if (context.serverInfo) {
    const meta = typeof base._meta === 'object' && base._meta !== null ? (base._meta as Record<string, unknown>) : {};
    if (!(META_KEYS.serverInfo in meta)) decorated._meta = { ...meta, [META_KEYS.serverInfo]: context.serverInfo };
  }
  return decorated;
}
