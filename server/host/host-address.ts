import type { ShareState } from '../admin/host-api.ts';

/**
 * Where the host is reached: its local URL (empty until it listens) and the tunnel's state (set by
 * whoever supervises the host). Read by sign-in, status, bundles and health; a plain record because
 * both change after the parts that read them are built.
 */
export interface HostAddress {
  url: string;
  share: ShareState;
  /** HARBOR_PUBLIC_URL (access/public-url.ts): the reverse proxy's address, fixed at start; wins over the tunnel's. */
  readonly publicUrl: string | null;
}

export const SHARE_OFF: ShareState = { state: 'off', mode: null, publicUrl: null, lastError: null };

export function hostAddress(publicUrl: string | null = null): HostAddress {
  return { url: '', share: SHARE_OFF, publicUrl };
}

/** Where teammates reach the host, for the URLs handed to them: the proxy's, else the tunnel's, else the local one. */
export function teammateBaseUrl(address: HostAddress): string {
  return address.publicUrl ?? address.share.publicUrl ?? address.url;
}
