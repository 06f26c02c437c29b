import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { JsonRpcMessage } from './jsonrpc.ts';
import type { Upstream } from './upstream.ts';

/** An MCP server living in the host process (the built-in docs server), reached through linked in-memory transports. */
export class InProcessUpstream implements Upstream {
  readonly name: string;
  readonly #createServer: () => McpServer;
  #server: McpServer | null = null;
  #transport: InMemoryTransport | null = null;
  onMessage: (message: JsonRpcMessage) => void = () => {};
  onDown: (reason: string, planned: boolean) => void = () => {};
  onUp: () => void = () => {};

  constructor(name: string, createServer: () => McpServer) {
    this.name = name;
    this.#createServer = createServer;
  }

  get up(): boolean {
    return this.#transport !== null;
  }

  async start(): Promise<void> {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const server = this.#createServer();
    await server.connect(serverSide);
    clientSide.onmessage = (message) => this.onMessage(message as JsonRpcMessage);
    await clientSide.start();
    this.#server = server;
    this.#transport = clientSide;
    this.onUp();
  }

  send(message: JsonRpcMessage): void {
    void this.#transport?.send(message as JSONRPCMessage);
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    this.#transport = null;
    await server?.close();
  }
}
