import { ErrorCode, errorResponse, isJsonObject, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.ts';
import { LATEST_PROTOCOL_VERSION, negotiateProtocolVersion } from './protocol-version.ts';
import type { Upstream } from './upstream.ts';

export interface InitializeResult {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: Record<string, unknown>;
  instructions?: string;
}

const HARBOR_CLIENT_INFO = { name: 'harbor', version: '0.1.0' };

export interface InitHandshakeOptions {
  upstream: Pick<Upstream, 'up' | 'start' | 'send'>;
  /** Harbor's own request to the upstream (own-requests.ts). */
  request: (method: string, params: Record<string, unknown>) => Promise<JsonRpcResponse>;
  /** Offer `roots` to the upstream (only when one session owns it). */
  offerRoots: boolean;
  /** A fresh upstream is initialised (its result already cached): learn its tools, re-subscribe, probe it. */
  onInitialized: () => void;
}

/**
 * The upstream's one initialize, done by Harbor as the client: every session's initialize is answered
 * from its cached result (with the protocol version that session asked for, negotiated), and a
 * restarted upstream is initialised afresh. Concurrent callers share one handshake in progress.
 */
export class InitHandshake {
  readonly #options: InitHandshakeOptions;
  #pending: Promise<InitializeResult> | null = null;
  #result: InitializeResult | null = null;

  constructor(options: InitHandshakeOptions) {
    this.#options = options;
  }

  /** Initialised and up: calls may go through. */
  get ready(): boolean {
    return this.#result !== null && this.#options.upstream.up;
  }

  /** The cached result while initialised and up, else null: read it without a promise (ensure() initialises). */
  get result(): InitializeResult | null {
    return this.ready ? this.#result : null;
  }

  /** Initialised (maybe not up any more) or a handshake is under way: nothing to start. */
  get begun(): boolean {
    return this.#result !== null || this.#pending !== null;
  }

  /** The cached result, after initialising the upstream (starting it first) if it is not. */
  ensure(): Promise<InitializeResult> {
    if (this.ready) return Promise.resolve(this.#result!);
    this.#pending ??= this.#handshake().finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  /** The upstream went away: its result is no longer good. */
  reset(): void {
    this.#result = null;
  }

  async #handshake(): Promise<InitializeResult> {
    const { upstream, offerRoots } = this.#options;
    if (!upstream.up) await upstream.start();
    const capabilities: Record<string, unknown> = { sampling: {}, elicitation: {} };
    if (offerRoots) capabilities.roots = { listChanged: true };
    const response = await this.#options.request('initialize', {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      capabilities,
      clientInfo: HARBOR_CLIENT_INFO,
    });
    if (response.error) throw new Error(response.error.message);
    if (!isJsonObject(response.result)) throw new Error('its initialize result is not an object');
    const result = response.result as unknown as InitializeResult;
    upstream.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.#result = result;
    this.#options.onInitialized();
    return result;
  }
}

/**
 * A session's initialize answered from the upstream's (cached) result, in the protocol version the
 * session can speak; an error answer when the upstream could not be initialised.
 */
export async function answerSessionInitialize(handshake: InitHandshake, request: JsonRpcRequest, serverName: string): Promise<JsonRpcResponse> {
  try {
    const result: InitializeResult = { ...(await handshake.ensure()), protocolVersion: negotiateProtocolVersion(request.params?.protocolVersion) };
    return { jsonrpc: '2.0', id: request.id, result };
  } catch (error) {
    return errorResponse(request.id, ErrorCode.UpstreamUnavailable, `server "${serverName}" did not initialise: ${(error as Error).message}`);
  }
}
