import type { BoundedCache } from '../cache/bounded-cache.ts';
import { toolCacheKey } from '../cache/cache-key.ts';

export interface ToolCachePolicy {
  /** Tool names to cache, or "readOnly": the tools whose annotations say `readOnlyHint: true`. */
  tools: 'readOnly' | string[];
  ttlMs: number;
}

interface ToolDescription {
  name?: unknown;
  annotations?: { readOnlyHint?: unknown };
}

/**
 * Results of a hosted server's cacheable tools, keyed by server + tool + canonical arguments, so a
 * hit is only ever served for the same server and tool. Errors and `isError` results are never kept.
 */
export class ToolResultCache {
  readonly server: string;
  readonly #cache: BoundedCache<unknown>;
  readonly #policy: ToolCachePolicy;
  readonly #readOnly = new Set<string>();

  constructor(cache: BoundedCache<unknown>, server: string, policy: ToolCachePolicy) {
    this.#cache = cache;
    this.server = server;
    this.#policy = policy;
  }

  get needsToolList(): boolean {
    return this.#policy.tools === 'readOnly';
  }

  /** Learns which tools are read-only from a `tools/list` result passing through. */
  learn(result: unknown): void {
    const tools = (result as { tools?: ToolDescription[] } | undefined)?.tools;
    if (!Array.isArray(tools)) return;
    for (const tool of tools) {
      if (typeof tool !== 'object' || tool === null || typeof tool.name !== 'string') continue;
      if (tool.annotations?.readOnlyHint === true) this.#readOnly.add(tool.name);
      else this.#readOnly.delete(tool.name);
    }
  }

  cacheable(tool: string): boolean {
    return this.#policy.tools === 'readOnly' ? this.#readOnly.has(tool) : this.#policy.tools.includes(tool);
  }

  key(tool: string, args: unknown): string | null {
    try {
      return toolCacheKey(this.server, tool, args ?? {});
    } catch {
      return null; // arguments that have no canonical form (NaN, cycles) are simply not cached
    }
  }

  get(key: string): Promise<unknown> {
    return this.#cache.get(key);
  }

  store(key: string, result: unknown): void {
    if ((result as { isError?: unknown } | undefined)?.isError === true) return;
    this.#cache.set(key, result, { ttlMs: this.#policy.ttlMs });
  }
}
