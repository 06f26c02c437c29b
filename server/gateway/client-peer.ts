import type { ConnectedVia } from '../auth/connected-via.ts';
import type { JsonRpcId, JsonRpcMessage } from './jsonrpc.ts';

/** What a client session declared at initialize, as far as the gateway needs it. */
export interface ClientCapabilities {
  sampling?: object;
  elicitation?: object;
  roots?: { listChanged?: boolean };
  [key: string]: unknown;
}

/**
 * The gateway's view of one client session, whatever transport carries it (Streamable HTTP or legacy
 * SSE). `relatedRequestId` is the client's own id of the request a message belongs to, so the
 * transport can put it on that request's stream.
 */
export interface ClientPeer {
  readonly id: string;
  /** Teammate name, for logs and attribution; never a secret. */
  readonly teammate: string;
  /** How the teammate authenticated (static token or sign-in), for the audit log; absent for Harbor's own peers. */
  readonly via?: ConnectedVia | undefined;
  capabilities: ClientCapabilities;
  deliver(message: JsonRpcMessage, relatedRequestId?: JsonRpcId): void;
  /** The upstream asked this peer for something its capabilities lack (the router refuses it upstream). */
  missingCapability?(capability: string, method: string): void;
}
