/**
 * Raw MCP sessions over each of Harbor's transports, for tests that send what a well-behaved SDK
 * client never would (bodies as text, any shape) and look at the exact HTTP answer.
 */
import assert from 'node:assert/strict';

export const PROTOCOL = '2025-11-25';

export interface RawSession {
  /** The transport's name, for messages. */
  readonly kind: 'streamable' | 'url-token' | 'legacy';
  readonly sessionId: string;
  /** Sends a body as is; resolves with the POST's status and text. */
  post(body: string, signal?: AbortSignal): Promise<{ status: number; text: string }>;
  /** Legacy only: the next `message` event on the stream whose id matches (the answer to a 202). */
  answer?(id: number | string, timeoutMs?: number): Promise<unknown>;
  close(): Promise<void>;
}

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});
const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });

/** A Streamable HTTP session at `/mcp/<server>` (Bearer header) or `/t/<token>/mcp/<server>` (URL form). */
export async function openStreamable(base: string, server: string, token: string, urlToken = false): Promise<RawSession> {
  const endpoint = urlToken ? `${base}/t/${encodeURIComponent(token)}/mcp/${server}` : `${base}/mcp/${server}`;
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    ...(urlToken ? {} : { Authorization: `Bearer ${token}` }),
  };
  const init = await fetch(endpoint, { method: 'POST', headers, body: INITIALIZE });
  assert.equal(init.status, 200, await init.clone().text());
  await init.text();
  const id = init.headers.get('mcp-session-id');
  assert.ok(id, 'initialize gave no session id');
  Object.assign(headers, { 'mcp-session-id': id, 'mcp-protocol-version': PROTOCOL });
  const post = async (body: string, signal?: AbortSignal) => {
    const res = await fetch(endpoint, { method: 'POST', headers, body, ...(signal ? { signal } : {}) });
    return { status: res.status, text: await res.text() };
  };
  assert.equal((await post(INITIALIZED)).status, 202);
  return {
    kind: urlToken ? 'url-token' : 'streamable',
    sessionId: id,
    post,
    async close() {
      await fetch(endpoint, { method: 'DELETE', headers }).then((r) => r.text()).catch(() => {});
    },
  };
}

/** A legacy HTTP+SSE session: `GET /sse/<server>`, then POSTs to the endpoint it announces. */
export async function openLegacy(base: string, server: string, token: string): Promise<RawSession> {
  const auth = { Authorization: `Bearer ${token}` };
  const stop = new AbortController();
  const res = await fetch(`${base}/sse/${server}`, { headers: { ...auth, Accept: 'text/event-stream' }, signal: stop.signal });
  assert.equal(res.status, 200);
  const events = sseEvents(res.body!);
  const endpoint = await events.next('endpoint', 10_000);
  const messagesUrl = new URL(endpoint as string, base).href;
  const post = async (body: string, signal?: AbortSignal) => {
    const r = await fetch(messagesUrl, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body, ...(signal ? { signal } : {}) });
    return { status: r.status, text: await r.text() };
  };
  const session: RawSession = {
    kind: 'legacy',
    sessionId: new URL(messagesUrl).searchParams.get('sessionId')!,
    post,
    answer: (id, timeoutMs = 10_000) => events.nextMessage(id, timeoutMs),
    async close() {
      stop.abort();
      await events.done;
    },
  };
  assert.equal((await post(INITIALIZE)).status, 202);
  await session.answer!(0);
  assert.equal((await post(INITIALIZED)).status, 202);
  return session;
}

interface EventReader {
  next(event: string, timeoutMs: number): Promise<string>;
  nextMessage(id: number | string, timeoutMs: number): Promise<unknown>;
  done: Promise<void>;
}

/** A minimal SSE reader: events kept in order, taken by name (or by JSON-RPC id for `message`). */
function sseEvents(body: ReadableStream<Uint8Array>): EventReader {
  const queue: Array<{ event: string; data: string }> = [];
  const waiters = new Set<() => void>();
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) queue.push({ event, data: data.join('\n') });
        }
        for (const wake of waiters) wake();
      }
    } catch {
      // aborted by close()
    }
  })();
  async function take(match: (e: { event: string; data: string }) => boolean, timeoutMs: number, what: string) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = queue.findIndex(match);
      if (at >= 0) return queue.splice(at, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} on the SSE stream within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        waiters.add(wake);
      });
    }
  }
  return {
    done,
    next: async (event, timeoutMs) => (await take((e) => e.event === event, timeoutMs, `${event} event`)).data,
    nextMessage: async (id, timeoutMs) => {
      const found = await take((e) => e.event === 'message' && idOf(e.data) === id, timeoutMs, `answer to ${id}`);
      return JSON.parse(found.data) as unknown;
    },
  };
}

function idOf(data: string): unknown {
  try {
    return (JSON.parse(data) as { id?: unknown }).id;
  } catch {
    return undefined;
  }
}
