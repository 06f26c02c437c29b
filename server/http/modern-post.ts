import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConnectedVia } from '../auth/connected-via.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import { ErrorCode, errorResponse, isRequest, type JsonRpcMessage, type JsonRpcRequest } from '../gateway/jsonrpc.ts';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../gateway/protocol-version.ts';
import type { Logger } from '../logger.ts';
import { unsupportedVersion } from '../modern/envelope.ts';
import { FixedDelaySweep } from '../modern/fixed-delay-sweep.ts';
import { ListenBridge } from '../modern/listen-bridge.ts';
import { abortCall, callCancel, type NotificationSink } from '../modern/modern-call.ts';
import { serveModern, type ModernExchangeOptions, type ModernOutcome } from '../modern/modern-exchange.ts';
import { sendJson } from './http-errors.ts';
import { SseStream, type Heartbeat } from './sse-stream.ts';

/**
 * A modern call unanswered this long switches to SSE. Later than the 2025 path's second: modern
 * clients (and the official suite's input_required checks) expect a plain JSON answer for a quick
 * call, and a call that waits its turn in the interactive lane (request-attribution.ts) should still
 * get one; 10 s is far below the idle cut of the proxies in front of Harbor (60 s and more).
 */
export const MODERN_SSE_AFTER_MS = 10_000;

/** Every modern POST's switch to SSE on one coarse timer (fixed-delay-sweep.ts): up to a second late. */
const sseUpgrades = new FixedDelaySweep({ delayMs: MODERN_SSE_AFTER_MS, tickMs: 1000 });

export interface ModernPostContext {
  modern: ModernExchangeOptions;
  heartbeat: Heartbeat;
  log: Logger;
  maxStreamBufferBytes: number;
  /** False while a quick tunnel carries the traffic (it buffers SSE): answers are JSON only. */
  allowStream: boolean;
  /** How this request's caller authenticated, for the call's audit row. */
  via?: ConnectedVia;
}

/**
 * One modern POST (isModernMessage said so): served statelessly by serveModern, answered as JSON, or
 * as an SSE stream scoped to the request when it asked for progress or logs (the only notifications a
 * modern request can receive), or as the long-lived stream of subscriptions/listen. Closing the
 * response before the answer cancels the call upstream (streamable-http "Cancellation").
 */
export async function handleModernPost(
  req: IncomingMessage,
  res: ServerResponse,
  hosted: HostedServer,
  teammate: string,
  message: JsonRpcMessage,
  ctx: ModernPostContext,
): Promise<void> {
  const port = hosted.modernPort();
  if (!port) {
    // Isolated servers speak the 2025 era only (hosted-server.ts modernPort): -32022 listing the legacy
    // versions is what sends an `auto` client back to initialize.
    const refusal = unsupportedVersion('2026-07-28', SUPPORTED_PROTOCOL_VERSIONS);
    refusal.message = `server "${hosted.name}" runs one process per session (mode "isolated") and is served over the 2025 protocol only: connect with initialize`;
    sendJson(res, 400, errorResponse(isRequest(message) ? message.id : null, refusal.code, refusal.message, refusal.data));
    return;
  }
  // A continuation whose call is parked on another replica is answered there (continuation-forward.ts).
  const forwarded = ctx.modern.forward ? await ctx.modern.forward(req, res, message, teammate) : { kind: 'local' as const };
  if (forwarded.kind === 'forwarded') return;
  if (forwarded.kind === 'refused') {
    sendJson(res, forwarded.status, forwarded.response);
    return;
  }
  const cancel = callCancel();
  // 'close' also fires after a finished response: only an unfinished one is a cancellation.
  res.once('close', () => {
    if (!res.writableFinished) abortCall(cancel);
  });
  // The answer is JSON unless the request gets a notification (progress, opted-in logs) or runs past
  // MODERN_SSE_AFTER_MS: then an SSE stream scoped to it, so the status of a refusal stays a real 4xx
  // and a long call still sends bytes (and keep-alives) that no proxy cuts.
  let stream: SseStream | null = null;
  const upgrade = (): SseStream => (stream ??= openStream(res, ctx));
  const canStream = ctx.allowStream && acceptsEventStream(req);
  const sink: NotificationSink | null = canStream ? (notification) => void upgrade().send(JSON.stringify(notification)) : null;
  const deadline = canStream && isRequest(message) ? sseUpgrades.add(upgrade) : undefined;
  let outcome: ModernOutcome;
  try {
    outcome = await serveModern(ctx.modern, port, teammate, req.headers, message, sink, cancel, ctx.via);
  } catch (error) {
    // initializeResult() fails when the upstream cannot start: the caller hears why, as on the legacy path.
    const id = isRequest(message) ? message.id : null;
    outcome = { kind: 'response', status: 200, response: errorResponse(id, ErrorCode.UpstreamUnavailable, `server "${hosted.name}" is not available: ${(error as Error).message}`) };
  } finally {
    if (deadline) sseUpgrades.cancel(deadline);
  }
  if (cancel.aborted) return;
  const open = stream as SseStream | null;
  switch (outcome.kind) {
    case 'accepted':
      res.writeHead(202).end();
      return;
    case 'response':
      if (open) {
        open.send(JSON.stringify(outcome.response));
        open.end();
      } else sendJson(res, outcome.status, outcome.response);
      return;
    case 'listen':
      openListen(res, port.router, teammate, outcome, open, ctx);
  }
}

function acceptsEventStream(req: IncomingMessage): boolean {
  return /text\/event-stream|\*\/\*/i.test(req.headers.accept ?? '');
}

function openStream(res: ServerResponse, ctx: ModernPostContext): SseStream {
  return new SseStream(res, { heartbeat: ctx.heartbeat, maxBufferedBytes: ctx.maxStreamBufferBytes, log: ctx.log });
}

function openListen(
  res: ServerResponse,
  router: ConstructorParameters<typeof ListenBridge>[0]['router'],
  teammate: string,
  outcome: { request: JsonRpcRequest; filter: ListenBridge['filter'] },
  stream: SseStream | null,
  ctx: ModernPostContext,
): void {
  const sse = stream ?? openStream(res, ctx);
  const bridge = new ListenBridge({
    teammate,
    subscriptionId: outcome.request.id,
    filter: outcome.filter,
    router,
    write: (m) => void sse.send(JSON.stringify(m)),
  });
  // The client ends a subscription by closing the stream; the bridge then leaves the router.
  sse.onClose = () => bridge.close(false);
  bridge.open();
  if (sse.closed) bridge.close(false);
}
