import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_MAX_JSON_DEPTH, valueDepth } from './bounded-json.ts';
import { validateMessage, type JsonRpcMessage } from './jsonrpc.ts';
import type { UnreadableLine } from './upstream-line.ts';
import type { Upstream } from './upstream.ts';

/** An MCP server living in the host process (the built-in docs server), reached through linked in-memory transports. */
export class InProcessUpstream implements Upstream {
  readonly name: string;
  readonly #createServer: () => McpServer;
  #server: McpServer | null = null;
  #transport: InMemoryTransport | null = null;
  onMessage: (message: JsonRpcMessage) => void = () => {};
  onUnreadable: (line: UnreadableLine) => void = () => {};
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
    // Our own server, through the SDK's schemas: checked anyway, so the router's one promise (what
    // reaches it is a valid message) holds for every upstream.
    clientSide.onmessage = (message) => {
      const invalid = validateMessage(message);
      if (invalid === null) this.onMessage(message as JsonRpcMessage);
      else this.onUnreadable({ reason: `an invalid message (${invalid})`, id: undefined, response: false });
    };
    await clientSide.start();
    this.#server = server;
    this.#transport = clientSide;
    this.onUp();
  }

  send(message: JsonRpcMessage): string | undefined {
    // No serialisation in process, so a too-deep message would only blow the stack later, in the
    // SDK's handlers: refused here like the stdio path refuses it.
    if (valueDepth(message, DEFAULT_MAX_JSON_DEPTH) > DEFAULT_MAX_JSON_DEPTH) {
      return 'the message is nested too deeply to forward';
    }
    this.#transport?.send(message as JSONRPCMessage).catch(() => {});
    return undefined;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    this.#transport = null;
    await server?.close();
  }
}
