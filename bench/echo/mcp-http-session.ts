import { Agent, request } from 'node:http';

/**
 * A lean Streamable HTTP MCP client for load generation: initialize, notifications/initialized, then
 * tools/call POSTs over one keep-alive connection, reading either a JSON or an SSE answer. The SDK
 * client costs several times more CPU per call than this, and on a 2-core machine the load generator
 * would otherwise be the bottleneck that every gateway is measured against.
 */

const PROTOCOL_VERSION = '2025-06-18';

export interface HttpTarget {
  /** Full Streamable HTTP endpoint, e.g. http://127.0.0.1:1234/everything/mcp. */
  url: string;
  headers: Record<string, string>;
}

export interface JsonRpcAnswer {
  jsonrpc: '2.0';
  id?: number | string;
  result?: unknown;
  error?: { code: number; message: string };
}

export class McpHttpSession {
  readonly #url: URL;
  readonly #headers: Record<string, string>;
  // One socket per session, as separate teammates' clients would have.
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  #sessionId: string | undefined;
  #nextId = 1;

  constructor(target: HttpTarget) {
    this.#url = new URL(target.url);
    this.#headers = target.headers;
  }

  /** The Mcp-Session-Id the server issued (after open()). */
  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  async open(): Promise<void> {
    const init = await this.#post(
      {
        jsonrpc: '2.0',
        id: this.#nextId++,
        method: 'initialize',
        params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'harbor-bench', version: '1.0.0' } },
      },
      true,
    );
    if (init.answer?.error || !init.answer?.result) throw new Error(`initialize failed: ${JSON.stringify(init.answer)}`);
    if (!init.sessionId) throw new Error('initialize answered without an Mcp-Session-Id');
    this.#sessionId = init.sessionId;
    await this.#post({ jsonrpc: '2.0', method: 'notifications/initialized' }, false);
  }

  /** One tools/call; rejects on an HTTP error, a JSON-RPC error or a tool error. */
  async callTool(name: string, args: Record<string, unknown>): Promise<unknown> {
    const { answer } = await this.#post(
      { jsonrpc: '2.0', id: this.#nextId++, method: 'tools/call', params: { name, arguments: args } },
      true,
    );
    return toolResultOf(answer);
  }

  async close(): Promise<void> {
    if (this.#sessionId) {
      await new Promise<void>((resolve) => {
        const req = request(this.#url, { method: 'DELETE', agent: this.#agent, headers: this.#requestHeaders() }, (res) => {
          res.resume();
          res.on('end', resolve);
          res.on('error', () => resolve());
        });
        req.on('error', () => resolve());
        req.setTimeout(5_000, () => req.destroy());
        req.end();
      });
    }
    this.#agent.destroy();
  }

  #requestHeaders(): Record<string, string> {
    const headers: Record<string, string> = {
      ...this.#headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (this.#sessionId) {
      headers['mcp-session-id'] = this.#sessionId;
      headers['mcp-protocol-version'] = PROTOCOL_VERSION;
    }
    return headers;
  }

  #post(message: JsonRpcOut, expectAnswer: boolean): Promise<PostAnswer> {
    return postJsonRpc(this.#url, this.#agent, this.#requestHeaders(), message, expectAnswer);
  }
}

/**
 * Opens `count` sessions on the target, `batch` at a time (by default one at a time, as teammates
 * arrive: a gateway that spawns per session is not stampeded, and nginx spreads the initializes
 * round-robin); on a failure closes what it opened and throws.
 */
export async function openSessions(target: HttpTarget, count: number, batch = 1): Promise<McpHttpSession[]> {
  const sessions: McpHttpSession[] = [];
  try {
    for (let i = 0; i < count; i += batch) {
      const opening = Array.from({ length: Math.min(batch, count - i) }, () => new McpHttpSession(target));
      sessions.push(...opening);
      await Promise.all(opening.map((s) => s.open()));
    }
  } catch (error) {
    await closeSessions(sessions);
    throw error;
  }
  return sessions;
}

/** Closes the sessions, `batch` at a time (by default all at once); a failed DELETE is not an error. */
export async function closeSessions(sessions: McpHttpSession[], batch = Infinity): Promise<void> {
  for (let i = 0; i < sessions.length; i += batch) {
    await Promise.all(sessions.slice(i, i + batch).map((s) => s.close().catch(() => undefined)));
  }
}

/** Throws unless a tools/call `echo` result's text carries the message sent: every bench checks every answer. */
export function checkEcho(result: unknown, message: string): void {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  const text = content.map((c) => c.text ?? '').join('');
  if (!text.includes(message)) throw new Error(`wrong echo: ${text.slice(0, 100)}`);
}

/** A tools/call answer's result; throws on no answer, a JSON-RPC error or a tool error. */
export function toolResultOf(answer: JsonRpcAnswer | undefined): unknown {
  if (!answer) throw new Error('no answer');
  if (answer.error) throw new Error(`JSON-RPC error ${answer.error.code}: ${answer.error.message}`);
  const result = answer.result as { isError?: boolean };
  if (result?.isError) throw new Error(`tool error: ${JSON.stringify(result)}`);
  return result;
}

export interface JsonRpcOut {
  jsonrpc: '2.0';
  id?: number;
  method: string;
  params?: unknown;
}

export interface PostAnswer {
  answer?: JsonRpcAnswer;
  sessionId?: string;
}

/**
 * POSTs one message over `agent`; for a request, resolves with the answer carrying its id (JSON body or
 * SSE event). Shared by the 2025 session and the 2026-07-28 caller (mcp-modern-caller.ts).
 */
export function postJsonRpc(url: URL, agent: Agent, headers: Record<string, string>, message: JsonRpcOut, expectAnswer: boolean): Promise<PostAnswer> {
  const body = JSON.stringify(message);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const status = res.statusCode ?? 0;
        const sessionHeader = res.headers['mcp-session-id'];
        const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
        const sse = /text\/event-stream/i.test(res.headers['content-type'] ?? '');
        let text = '';
        let settled = false;
        const finish = (answer: JsonRpcAnswer | undefined) => {
          if (settled) return;
          settled = true;
          resolve({ ...(answer ? { answer } : {}), ...(sessionId ? { sessionId } : {}) });
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          // An SSE stream may stay open after the answer; resolve as soon as the answer's event is complete.
          if (sse && expectAnswer && !settled) {
            const answer = findSseAnswer(text, message.id);
            if (answer) finish(answer);
          }
        });
        res.on('end', () => {
          if (settled) return;
          if (status < 200 || status >= 300) return fail(new Error(`HTTP ${status}: ${text.slice(0, 200)}`));
          if (!expectAnswer) return finish(undefined);
          const answer = sse ? findSseAnswer(text, message.id) : parseJsonAnswer(text, message.id);
          if (!answer) return fail(new Error(`no answer for id ${message.id} in ${sse ? 'SSE' : 'JSON'} body: ${text.slice(0, 200)}`));
          finish(answer);
        });
        res.on('error', (error) => fail(error));
        const fail = (error: Error) => {
          if (settled) return;
          settled = true;
          reject(error);
        };
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function parseJsonAnswer(text: string, id: number | undefined): JsonRpcAnswer | undefined {
  const parsed = JSON.parse(text) as JsonRpcAnswer | JsonRpcAnswer[];
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.find((m) => m.id === id && !('method' in m));
}

/** The answer with `id` among complete SSE events (blank-line terminated) in `text`. */
function findSseAnswer(text: string, id: number | undefined): JsonRpcAnswer | undefined {
  const events = text.replace(/\r\n/g, '\n').split('\n\n');
  events.pop(); // the last piece is an incomplete event (or empty)
  for (const event of events) {
    const data = event
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!data) continue;
    const answer = parseJsonAnswerSafe(data, id);
    if (answer) return answer;
  }
  return undefined;
}

function parseJsonAnswerSafe(text: string, id: number | undefined): JsonRpcAnswer | undefined {
  try {
    return parseJsonAnswer(text, id);
  } catch {
    return undefined;
  }
}
