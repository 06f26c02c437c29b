import type { ShareState } from '../admin/host-api.ts';

/**
 * Where the host is reached: its local URL (empty until it listens) and the tunnel's state (set by
 * whoever supervises the host). Read by sign-in, status, bundles and health; a plain record because
 * both change after the parts that read them are built.
 */
export interface HostAddress {
  url: string;
  share: ShareState;
}

export const SHARE_OFF: ShareState = { state: 'off', mode: null, publicUrl: null, lastError: null };

export function hostAddress(): HostAddress {
  return { url: '', share: SHARE_OFF };
}
