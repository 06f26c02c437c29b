import type { ConnectedVia } from '../auth/connected-via.ts';
import { ErrorCode, errorResponse, isRequest, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from '../gateway/jsonrpc.ts';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../gateway/protocol-version.ts';
import type { ContinuationForwarder } from './continuation-forward.ts';
import { discoverResult, type UpstreamInitializeResult } from './discover.ts';
import { checkVersion, parseEnvelope, type ModernRefusal } from './envelope.ts';
import type { InputRequiredTranslator, ModernCaller } from './input-required.ts';
import type { RouterPort } from './router-port.ts';
import { honouredFilter, parseFilter, type SubscriptionFilter } from './listen-bridge.ts';
import type { CallCancel, NotificationSink } from './modern-call.ts';
import { MODERN_PROTOCOL_VERSIONS, ModernErrorCode, REMOVED_METHODS } from './protocol.ts';
import { checkRequestHeaders, type HeaderBag } from './request-headers.ts';
import { learnToolList, toolCallHeaderRefusal } from './tool-call-headers.ts';
import type { ToolSchemas } from './tool-schemas.ts';
import { cacheScopeFor, decorateResult } from './result-decoration.ts';

/** Every revision Harbor serves on one endpoint, modern first: the -32022 and server/discover list. */
export const ALL_SUPPORTED_VERSIONS: readonly string[] = [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS];

/** What the modern path needs of one hosted server (HostedServer + UpstreamRouter provide it, see the fact sheet). */
export interface ModernServerPort {
  name: string;
  /** The router a modern call goes through: the shared one, or (isolated mode) one for this caller. */
  router: RouterPort;
  /** The upstream's initialize result (cached by the router; initialises the upstream if needed). */
  initializeResult(): Promise<UpstreamInitializeResult>;
  /** The cached result without a promise, while the upstream is initialised (absent or null: ask initializeResult). */
  initialized?(): UpstreamInitializeResult | null;
  /** One upstream per caller: every answer is private to them. */
  isolated: boolean;
}

export interface ModernExchangeOptions {
  translator: InputRequiredTranslator;
  /** Freshness hint on list and read results, and on server/discover. */
  ttlMs: number;
  /** The tools' inputSchemas, for the Mcp-Param-* check of tools/call (tool-call-headers.ts); absent: not checked. */
  toolSchemas?: ToolSchemas;
  /** Replicas: relays a continuation to the replica holding its call (the HTTP layer runs it first). */
  forward?: ContinuationForwarder;
}

/** The outcome of one modern POST, for the HTTP layer to write. */
export type ModernOutcome =
  | { kind: 'response'; status: number; response: JsonRpcResponse }
  /** subscriptions/listen: open a long-lived SSE stream with a ListenBridge using this filter. */
  | { kind: 'listen'; request: JsonRpcRequest; filter: SubscriptionFilter }
  /** A notification: 202, nothing forwarded (the modern revision defines none over HTTP). */
  | { kind: 'accepted' };

function refused(id: JsonRpcRequest['id'] | null, refusal: ModernRefusal): ModernOutcome {
  return { kind: 'response', status: refusal.status, response: errorResponse(id, refusal.code, refusal.message, refusal.data) };
}

/**
 * One modern (2026-07-28) POST body, classified modern by isModernMessage: checks the envelope and
 * the headers, answers server/discover and removed methods itself, and forwards everything else
 * through the input_required translator, decorating the answer (resultType, caching hints, serverInfo).
 * New methods pass through to the upstream, as on the legacy path.
 */
export function serveModern(
  options: ModernExchangeOptions,
  server: ModernServerPort,
  teammate: string,
  headers: HeaderBag,
  message: JsonRpcMessage,
  sink: NotificationSink | null,
  cancel?: CallCancel,
  via?: ConnectedVia,
): Promise<ModernOutcome> {
  return new Promise((resolve) => dispatchModern(options, server, teammate, headers, message, sink, cancel, via, resolve));
}

/**
 * serveModern without a promise (the HTTP path, modern-post.ts): `done` gets the outcome once, at
 * once for what Harbor answers itself, later for what goes upstream. Callbacks, not async functions:
 * each awaiting layer was a promise and a suspended frame per call, the larger part of the modern
 * path's garbage (bench/echo-eras.ts). A failure on the way (the upstream cannot start) is an error
 * outcome, as on the legacy path. `done` must not throw: nothing awaits this to catch it.
 */
export function dispatchModern(
  options: ModernExchangeOptions,
  server: ModernServerPort,
  teammate: string,
  headers: HeaderBag,
  message: JsonRpcMessage,
  sink: NotificationSink | null,
  cancel: CallCancel | undefined,
  via: ConnectedVia | undefined,
  done: (outcome: ModernOutcome) => void,
): void {
  if (!isRequest(message)) {
    if ('method' in message) return done({ kind: 'accepted' });
    return done(refused(null, { status: 400, code: -32600, message: 'Invalid request: a modern POST carries one request or notification, not a response' }));
  }
  // Order matters (conformance server-stateless): shape -32602, then headers -32020, then version -32022.
  const parsed = parseEnvelope(message);
  if (!parsed.ok) return done(refused(message.id, parsed.refusal));
  const mismatch = checkRequestHeaders(headers, message);
  if (mismatch) return done(refused(message.id, mismatch));
  const unsupported = checkVersion(parsed.envelope, ALL_SUPPORTED_VERSIONS);
  if (unsupported) return done(refused(message.id, unsupported));
  if (REMOVED_METHODS.has(message.method)) {
    return done(refused(message.id, { status: 404, code: ModernErrorCode.MethodNotFound, message: `Method not found: ${message.method} is not part of protocol ${parsed.envelope.protocolVersion}` }));
  }
  if (message.method === 'server/discover') {
    return withInitializeResult(server, message.id, done, (init) => ({ kind: 'response', status: 200, response: { jsonrpc: '2.0', id: message.id, result: discoverResult(init, ALL_SUPPORTED_VERSIONS, options.ttlMs) } }));
  }
  if (message.method === 'subscriptions/listen') {
    const filter = parseFilter(message.params);
    if (!filter.ok) return done(refused(message.id, { status: 400, code: ModernErrorCode.InvalidParams, message: filter.message }));
    return withInitializeResult(server, message.id, done, (init) => ({ kind: 'listen', request: message, filter: honouredFilter(filter.filter, init.capabilities ?? {}) }));
  }
  const caller: ModernCaller = { teammate, via, server: server.name, envelope: parsed.envelope };
  const checked = toolCallHeaderRefusal(options, server.router, caller, message, headers, cancel);
  if (checked instanceof Promise) {
    checked
      .then((paramMismatch) => (paramMismatch ? done(refused(message.id, paramMismatch)) : forward(options, server, caller, message, sink, cancel, done)))
      .catch((error: Error) => done(unavailable(server, message.id, error)));
    return;
  }
  if (checked) return done(refused(message.id, checked));
  forward(options, server, caller, message, sink, cancel, done);
}

/** Through the translator to the upstream; the answer decorated for a modern caller. */
function forward(
  options: ModernExchangeOptions,
  server: ModernServerPort,
  caller: ModernCaller,
  message: JsonRpcRequest,
  sink: NotificationSink | null,
  cancel: CallCancel | undefined,
  done: (outcome: ModernOutcome) => void,
): void {
  options.translator.begin(server.router, caller, message, sink, cancel, (response) => {
    try {
      answered(options, server, message, response, done);
    } catch (error) {
      // Nothing awaits this callback to catch a throw: the caller hears of it instead.
      done({ kind: 'response', status: 200, response: errorResponse(message.id, ErrorCode.InternalError, `Harbor could not answer this call: ${(error as Error).message}`) });
    }
  });
}

function answered(options: ModernExchangeOptions, server: ModernServerPort, message: JsonRpcRequest, response: JsonRpcResponse, done: (outcome: ModernOutcome) => void): void {
  learnToolList(options, server.router, message, response);
  if (response.error) {
    // The upstream's own "method not found" is the revision's 404 (transports: unknown RPC method).
    // A missing client capability is a 400 (basic/index "_meta").
    const status = response.error.code === ModernErrorCode.MethodNotFound ? 404 : response.error.code === ModernErrorCode.MissingRequiredClientCapability ? 400 : 200;
    return done({ kind: 'response', status, response });
  }
  if ((response.result as { resultType?: unknown } | undefined)?.resultType === 'input_required') return done({ kind: 'response', status: 200, response });
  // The upstream's initialize result is cached once it answered a call: no closure then (per call).
  const cached = server.initialized?.();
  if (cached) return done(decorated(options, server, message, response, cached));
  withInitializeResult(server, message.id, done, (init) => decorated(options, server, message, response, init));
}

/**
 * The translator answers with a response of its own making (never the router's shared one): the
 * decorated result is set on it rather than copied, one object less per call (bench/echo-eras.ts).
 */
function decorated(options: ModernExchangeOptions, server: ModernServerPort, message: JsonRpcRequest, response: JsonRpcResponse, init: UpstreamInitializeResult): ModernOutcome {
  response.result = decorateResult(response.result, {
    method: message.method,
    policy: { ttlMs: options.ttlMs, cacheScope: cacheScopeFor(message.method, server.isolated) },
    serverInfo: init.serverInfo,
  });
  return { kind: 'response', status: 200, response };
}

/**
 * `make`'s outcome from the upstream's initialize result: at once when it is cached (the usual case
 * once the upstream answered a call: no promise per call), else once initializeResult settles.
 */
function withInitializeResult(
  server: ModernServerPort,
  id: JsonRpcId,
  done: (outcome: ModernOutcome) => void,
  make: (init: UpstreamInitializeResult) => ModernOutcome,
): void {
  const cached = server.initialized?.();
  if (cached) return done(make(cached));
  // `done` never throws (its contract): the rejection handler catches initializeResult's and make's.
  server
    .initializeResult()
    .then(make)
    .then(done, (error: Error) => done(unavailable(server, id, error)));
}

/** The upstream could not be started or initialised: the caller hears why, as on the legacy path. */
export function unavailable(server: Pick<ModernServerPort, 'name'>, id: JsonRpcId | null, error: Error): ModernOutcome {
  return { kind: 'response', status: 200, response: errorResponse(id, ErrorCode.UpstreamUnavailable, `server "${server.name}" is not available: ${error.message}`) };
}
