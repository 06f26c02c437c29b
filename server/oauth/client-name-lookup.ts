import { LRUCache } from 'lru-cache';

/** What the lookup needs of the clients store (the SDK's OAuthRegisteredClientsStore has it). */
export type GetClient = (clientId: string) => Promise<{ client_name?: string | undefined } | undefined> | { client_name?: string | undefined } | undefined;

export const UNNAMED_CLIENT = 'an MCP client';

/**
 * A signed-in caller's client name, for the audit log's `via` on every request. Cached: a client's
 * registration never changes its name (Harbor offers no update endpoint), and on PostgreSQL each miss is
 * a round trip. lru-cache's fetch() shares one lookup among concurrent misses of a key.
 */
export function clientNameLookup(getClient: GetClient, options: { max?: number; ttlMs?: number } = {}): (clientId: string) => Promise<string> {
  const names = new LRUCache<string, string>({
    max: options.max ?? 500,
    ttl: options.ttlMs ?? 10 * 60_000,
    fetchMethod: async (clientId) => (await getClient(clientId))?.client_name ?? UNNAMED_CLIENT,
  });
  return async (clientId) => (await names.fetch(clientId)) ?? UNNAMED_CLIENT;
}
