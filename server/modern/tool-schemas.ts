/**
 * Each hosted server's tool inputSchemas, as its upstream lists them, for the Mcp-Param-* check of
 * modern tools/call requests (param-headers.ts). Learned from every modern tools/list that passes, and
 * fetched (all pages, once at a time per server) when a call names a tool not learned or the list is
 * older than `maxAgeMs`; a tool the fresh list lacks is not fetched for again within `maxAgeMs` (the
 * upstream answers the unknown tool itself). A list can change without a modern client listing
 * (list_changed reaches subscriptions/listen, not this cache): hence the age bound, a minute, the
 * caching hint Harbor gives clients for tools/list (MODERN_CACHE_TTL_MS).
 *
 * Keyed by the server's router object (a WeakMap): a server removed from the config takes its entry along.
 */

export interface ToolSchemasOptions {
  maxAgeMs?: number;
  /** Pages of tools/list followed per fetch (nextCursor), so a looping cursor cannot hold a call. */
  maxPages?: number;
  now?: () => number;
}

/** One page of tools/list through the server's router; the result object, or null on an error. */
export type FetchToolsPage = (cursor: string | undefined) => Promise<unknown>;

interface Learned {
  schemas: Map<string, unknown>;
  /** When the whole list was last known; null: never. */
  learnedAt: number | null;
  fetching: Promise<void> | null;
}

export class ToolSchemas {
  readonly #maxAgeMs: number;
  readonly #maxPages: number;
  readonly #now: () => number;
  readonly #servers = new WeakMap<object, Learned>();

  constructor(options: ToolSchemasOptions = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? 60_000;
    this.#maxPages = options.maxPages ?? 20;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A tools/list result for this server, as it passed through. `wholeList`: it was the first page and
   * named no next one, so a tool it lacks is not there (a lone later page only adds what it names).
   */
  learn(server: object, result: unknown, wholeList: boolean): void {
    const tools = (result as { tools?: unknown } | null | undefined)?.tools;
    if (!Array.isArray(tools)) return;
    const learned = this.#entry(server);
    for (const tool of tools) {
      if (typeof tool !== 'object' || tool === null) continue;
      const { name, inputSchema } = tool as { name?: unknown; inputSchema?: unknown };
      if (typeof name === 'string') learned.schemas.set(name, inputSchema);
    }
    if (wholeList) learned.learnedAt = this.#now();
  }

  /** What a fresh list says of the tool, without waiting: `{ schema }` (undefined: not listed), or null when a fetch is due. */
  known(server: object, tool: string): { schema: unknown } | null {
    const learned = this.#servers.get(server);
    if (!learned || learned.learnedAt === null || this.#now() - learned.learnedAt >= this.#maxAgeMs) return null;
    return { schema: learned.schemas.get(tool) };
  }

  /** The tool's inputSchema, fetching the list first when needed; undefined when the server lists no such tool. */
  async schemaOf(server: object, tool: string, fetchPage: FetchToolsPage): Promise<unknown> {
    const fresh = this.known(server, tool);
    if (fresh) return fresh.schema;
    const learned = this.#entry(server);
    learned.fetching ??= this.#fetch(server, fetchPage).finally(() => {
      learned.fetching = null;
    });
    await learned.fetching;
    return learned.schemas.get(tool);
  }

  #entry(server: object): Learned {
    let learned = this.#servers.get(server);
    if (!learned) this.#servers.set(server, (learned = { schemas: new Map(), learnedAt: null, fetching: null }));
    return learned;
  }

  async #fetch(server: object, fetchPage: FetchToolsPage): Promise<void> {
    const learned = this.#entry(server);
    const schemas = new Map<string, unknown>();
    let cursor: string | undefined;
    for (let page = 0; page < this.#maxPages; page++) {
      const result = (await fetchPage(cursor)) as { tools?: unknown; nextCursor?: unknown } | null;
      if (!result || !Array.isArray(result.tools)) return; // an error: keep what was known, ask again next call
      for (const tool of result.tools as Array<{ name?: unknown; inputSchema?: unknown }>) {
        if (typeof tool?.name === 'string') schemas.set(tool.name, tool.inputSchema);
      }
      if (typeof result.nextCursor !== 'string' || result.nextCursor === '') break;
      cursor = result.nextCursor;
    }
    learned.schemas = schemas;
    learned.learnedAt = this.#now();
  }
}
