import type { ClientPeer } from '../gateway/client-peer.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import { ErrorCode, errorResponse, isRequest, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from '../gateway/jsonrpc.ts';
import type { Logger } from '../logger.ts';

/**
 * Hands a client's messages to its hosted server, one at a time. A throw while forwarding one is a
 * host bug (the body already passed parseMessages), never a reason to fail the whole POST with a 500
 * or, on legacy SSE, to leave a request that got its 202 unanswered: the request is answered with a
 * JSON-RPC error on its own id, the rest of a batch still goes through, and the stack is logged.
 */
export function forwardMessages(hosted: HostedServer, session: ClientPeer, messages: JsonRpcMessage[], log: Logger): void {
  for (const message of messages) {
    try {
      hosted.message(session, message);
    } catch (error) {
      const method = 'method' in message ? message.method : 'response';
      log.error({ server: hosted.name, session: session.id, method, err: (error as Error).message, stack: (error as Error).stack }, 'could not forward a client message');
      if (isRequest(message)) session.deliver(forwardFailure(message), message.id);
    }
  }
}

/** `initialize`, which opens the session, with the same rule: a throw becomes the request's JSON-RPC error. */
export async function openSessionSafely(
  hosted: HostedServer,
  session: ClientPeer,
  initialize: JsonRpcRequest,
  log: Logger,
): Promise<JsonRpcResponse> {
  try {
    return await hosted.openSession(session, initialize);
  } catch (error) {
    log.error({ server: hosted.name, session: session.id, err: (error as Error).message, stack: (error as Error).stack }, 'could not open a session');
    await hosted.closeSession(session).catch(() => {});
    return forwardFailure(initialize);
  }
}

// The message names the method, not the exception: internals stay in the host's log.
function forwardFailure(request: JsonRpcRequest): JsonRpcResponse {
  return errorResponse(request.id, ErrorCode.InternalError, `Harbor could not forward this ${String(request.method).slice(0, 100)} request; the host's log has the details`);
}
