import type { ClientPeer } from '../gateway/client-peer.ts';
import type { JsonRpcMessage } from '../gateway/jsonrpc.ts';

/** What the modern era needs of an upstream router (UpstreamRouter has exactly these): peers come and go, their messages go in. */
export interface RouterPort {
  attach(peer: ClientPeer): void;
  detach(peer: ClientPeer): void;
  fromClient(peer: ClientPeer, message: JsonRpcMessage): void;
}
