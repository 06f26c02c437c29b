import { Agent } from 'node:http';
import { postJsonRpc, toolResultOf, type HttpTarget, type JsonRpcOut } from './mcp-http-session.ts';

/**
 * The 2026-07-28 counterpart of McpHttpSession, for load generation: no initialize and no session; every
 * POST carries the `_meta` envelope and the MCP-Protocol-Version / Mcp-Method / Mcp-Name headers the
 * revision requires, over one keep-alive connection per caller (as one teammate's client would have).
 * open() sends one server/discover, as a client in `auto` mode does before its first call.
 */

const PROTOCOL_VERSION = '2026-07-28';

const META = {
  'io.modelcontextprotocol/protocolVersion': PROTOCOL_VERSION,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'harbor-bench', version: '1.0.0' },
};

export class McpModernCaller {
  readonly #url: URL;
  readonly #headers: Record<string, string>;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  #nextId = 1;

  constructor(target: HttpTarget) {
    this.#url = new URL(target.url);
    this.#headers = target.headers;
  }

  async open(): Promise<void> {
    const { answer } = await this.#post({ jsonrpc: '2.0', id: this.#nextId++, method: 'server/discover', params: { _meta: META } });
    const versions = (answer?.result as { supportedVersions?: unknown } | undefined)?.supportedVersions;
    if (!Array.isArray(versions) || !versions.includes(PROTOCOL_VERSION)) throw new Error(`server/discover: ${JSON.stringify(answer).slice(0, 200)}`);
  }

  /** One tools/call; rejects on an HTTP error, a JSON-RPC error or a tool error. */
  async callTool(name: string, args: Record<string, unknown>): Promise<unknown> {
    const { answer } = await this.#post({ jsonrpc: '2.0', id: this.#nextId++, method: 'tools/call', params: { name, arguments: args, _meta: META } }, name);
    return toolResultOf(answer);
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }

  #post(message: JsonRpcOut, name?: string) {
    const headers: Record<string, string> = {
      ...this.#headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': PROTOCOL_VERSION,
      'mcp-method': message.method,
      ...(name !== undefined ? { 'mcp-name': name } : {}),
    };
    return postJsonRpc(this.#url, this.#agent, headers, message, true);
  }
}
