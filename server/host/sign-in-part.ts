import type { HarborConfig } from '../config/config-schema.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { Logger } from '../logger.ts';
import type { SignInStoreOptions } from '../oauth/sign-in-stores.ts';
import type { SignInWithHarbor, SignInWithHarborOptions } from '../oauth/sign-in-with-harbor.ts';
import type { HarborStore } from '../open-store.ts';
import type { AdminEvents } from './admin-events.ts';
import type { HostAddress } from './host-address.ts';

export type SignInHooks = Partial<Pick<SignInWithHarborOptions, 'rateLimits' | 'pollSeconds' | 'clientMetadata'>> & SignInStoreOptions;

/**
 * Sign in with Harbor (auth "oauth" or "both"): Harbor is the authorization server of its own
 * endpoints; null with auth "tokens". Loaded only when on: it brings express, about 5 MB of the
 * host's RSS that token-only hosts never use. Its stores close with the store.
 */
export async function openSignIn(parts: {
  config: HarborConfig;
  store: HarborStore;
  servers: Map<string, HostedServer>;
  address: HostAddress;
  events: AdminEvents;
  log: Logger;
  hooks?: SignInHooks | undefined;
}): Promise<SignInWithHarbor | null> {
  const { config, address, log } = parts;
  if (config.auth === 'tokens') return null;
  const { rateLimits, pollSeconds, clientMetadata, ...storeOptions } = parts.hooks ?? {};
  const signIn = (await import('../oauth/sign-in-with-harbor.ts')).signInWithHarbor({
    // The home's file and memory, or (replicas) the shared PostgreSQL: a sign-in started on one replica completes on any.
    stores: await parts.store.signIn(storeOptions),
    mode: config.auth,
    servers: () => parts.servers.keys(),
    log,
    localPort: () => (address.url ? Number(new URL(address.url).port) : 0),
    // Behind a reverse proxy (HARBOR_PUBLIC_URL) every origin but loopback is the proxy's; invites name it too.
    configuredUrl: address.publicUrl,
    publicUrl: () => address.publicUrl ?? address.share.publicUrl,
    onApprovalRequested: (approval) => parts.events.publish({ type: 'teammate', action: 'wants-to-connect', ...approval }),
    ...(rateLimits ? { rateLimits } : {}),
    ...(pollSeconds !== undefined ? { pollSeconds } : {}),
    ...(clientMetadata ? { clientMetadata } : {}),
  });
  signIn.prune().catch((error: Error) => log.warn({ err: error.message }, 'could not prune expired sign-in grants'));
  return signIn;
}
