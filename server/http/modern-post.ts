import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConnectedVia } from '../auth/connected-via.ts';
import type { HostedServer, ModernPort } from '../gateway/hosted-server.ts';
import { errorResponse, isRequest, type JsonRpcMessage, type JsonRpcRequest } from '../gateway/jsonrpc.ts';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../gateway/protocol-version.ts';
import type { Logger } from '../logger.ts';
import { unsupportedVersion } from '../modern/envelope.ts';
import { FixedDelaySweep } from '../modern/fixed-delay-sweep.ts';
import { ListenBridge } from '../modern/listen-bridge.ts';
import { abortCall, callCancel, type NotificationSink } from '../modern/modern-call.ts';
import type { ContinuationForwarder } from '../modern/continuation-forward.ts';
import { dispatchModern, unavailable, type ModernExchangeOptions, type ModernOutcome } from '../modern/modern-exchange.ts';
import { sendError, sendJson } from './http-errors.ts';
import { SseStream, type Heartbeat } from './sse-stream.ts';
import type { TeammateStreams } from './teammate-streams.ts';

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
  /** Where a response that turns into a stream is held, so revoking its teammate ends it. */
  streams?: TeammateStreams;
}

/**
 * One modern POST (isModernMessage said so): served statelessly by dispatchModern, answered as JSON,
 * or as an SSE stream scoped to the request when it asked for progress or logs (the only notifications
 * a modern request can receive), or as the long-lived stream of subscriptions/listen. Closing the
 * response before the answer cancels the call upstream (streamable-http "Cancellation"). Returns once
 * the call is on its way (a promise only while a replica is asked first): the answer is written when
 * it comes, as a 2025 session writes its answers.
 */
export function handleModernPost(
  req: IncomingMessage,
  res: ServerResponse,
  hosted: HostedServer,
  teammate: string,
  message: JsonRpcMessage,
  ctx: ModernPostContext,
): Promise<void> | undefined {
  const port = hosted.modernPort();
  if (!port) {
    // Isolated servers speak the 2025 era only (hosted-server.ts modernPort): -32022 listing the legacy
    // versions is what sends an `auto` client back to initialize.
    const refusal = unsupportedVersion('2026-07-28', SUPPORTED_PROTOCOL_VERSIONS);
    refusal.message = `server "${hosted.name}" runs one process per session (mode "isolated") and is served over the 2025 protocol only: connect with initialize`;
    sendJson(res, 400, errorResponse(isRequest(message) ? message.id : null, refusal.code, refusal.message, refusal.data));
    return undefined;
  }
  // A continuation whose call is parked on another replica is answered there (continuation-forward.ts).
  if (ctx.modern.forward) return forwardElseServe(ctx.modern.forward, req, res, port, teammate, message, ctx);
  serveHere(req, res, port, teammate, message, ctx);
  return undefined;
}

async function forwardElseServe(
  forward: ContinuationForwarder,
  req: IncomingMessage,
  res: ServerResponse,
  port: ModernPort,
  teammate: string,
  message: JsonRpcMessage,
  ctx: ModernPostContext,
): Promise<void> {
  const forwarded = await forward(req, res, message, teammate);
  if (forwarded.kind === 'forwarded') return;
  if (forwarded.kind === 'refused') return sendJson(res, forwarded.status, forwarded.response);
  serveHere(req, res, port, teammate, message, ctx);
}

function serveHere(req: IncomingMessage, res: ServerResponse, port: ModernPort, teammate: string, message: JsonRpcMessage, ctx: ModernPostContext): void {
  const cancel = callCancel();
  // 'close' also fires after a finished response: only an unfinished one is a cancellation.
  res.once('close', () => {
    if (!res.writableFinished) abortCall(cancel);
  });
  // The answer is JSON unless the request gets a notification (progress, opted-in logs) or runs past
  // MODERN_SSE_AFTER_MS: then an SSE stream scoped to it, so the status of a refusal stays a real 4xx
  // and a long call still sends bytes (and keep-alives) that no proxy cuts.
  let stream: SseStream | null = null;
  const upgrade = (): SseStream => (stream ??= openStream(res, ctx, teammate));
  const canStream = ctx.allowStream && acceptsEventStream(req);
  const sink: NotificationSink | null = canStream ? (notification) => void upgrade().send(JSON.stringify(notification)) : null;
  const deadline = canStream && isRequest(message) ? sseUpgrades.add(upgrade) : undefined;
  let answered = false;
  const done = (outcome: ModernOutcome): void => {
    if (answered) return;
    answered = true;
    if (deadline) sseUpgrades.cancel(deadline);
    if (cancel.aborted) return;
    try {
      writeOutcome(res, outcome, stream, port, teammate, ctx);
    } catch (error) {
      // The route's handler has returned: nothing else would catch this.
      ctx.log.error({ err: (error as Error).message, server: port.name }, 'writing a modern answer failed');
      if (res.headersSent) res.end();
      else sendError(res, 500, 'Internal error');
    }
  };
  try {
    dispatchModern(ctx.modern, port, teammate, req.headers, message, sink, cancel, ctx.via, done);
  } catch (error) {
    done(unavailable(port, isRequest(message) ? message.id : null, error as Error));
  }
}

function writeOutcome(res: ServerResponse, outcome: ModernOutcome, open: SseStream | null, port: ModernPort, teammate: string, ctx: ModernPostContext): void {
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

function openStream(res: ServerResponse, ctx: ModernPostContext, teammate: string): SseStream {
  ctx.streams?.hold(teammate, res);
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
  const sse = stream ?? openStream(res, ctx, teammate);
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
