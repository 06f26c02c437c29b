import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, type StreamableHTTPClientTransportOptions } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { ConnectionBundle } from '../../server/access/connection-bundle.ts';
import { authHeaders, GENEROUS_LIMITS, ROOT, startTestHost, textOf, type TestHost } from '../helpers/harbor.ts';
import { adminFetch, MemoryOAuthClient, signInAndApprove } from '../helpers/oauth-browser.ts';

// Issue 14 item 4: every server answers at a URL ending in /mcp (and /sse), which clients that infer the
// transport from the path recognise; the bundles hand out only that form; the first form still works.
const run = promisify(execFile);
const INSPECTOR = join(ROOT, 'node_modules/.bin/inspector');
const MCP_REMOTE = join(ROOT, 'node_modules/mcp-remote/dist/proxy.js');

/** What reached the host: path, MCP-Protocol-Version and whether a session id came along. */
interface Seen {
  path: string;
  version: string | undefined;
  session: boolean;
}

function recordRequests(h: TestHost): Seen[] {
  const seen: Seen[] = [];
  h.host.httpServer.prependListener('request', (req: IncomingMessage) => {
    seen.push({ path: req.url?.split('?')[0] ?? '', version: req.headers['mcp-protocol-version'] as string | undefined, session: req.headers['mcp-session-id'] !== undefined });
  });
  return seen;
}

async function callDocs(client: Client | ClientV2): Promise<void> {
  const tools = await client.listTools();
  assert.ok(tools.tools.some((t) => t.name === 'search_docs'));
  assert.match(textOf(await client.callTool({ name: 'search_docs', arguments: { query: 'welcome' } })), /welcome\.md/);
}

async function v1Over(transport: StreamableHTTPClientTransport | SSEClientTransport): Promise<void> {
  const client = new Client({ name: 'v1', version: '1' });
  await client.connect(transport);
  try {
    await callDocs(client);
  } finally {
    await client.close();
  }
}

function streamable(url: string, token?: string, options: StreamableHTTPClientTransportOptions = {}): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(new URL(url), { ...(token ? { requestInit: { headers: authHeaders(token) } } : {}), ...options });
}

function sse(url: string, token: string): SSEClientTransport {
  return new SSEClientTransport(new URL(url), {
    requestInit: { headers: authHeaders(token) },
    eventSourceInit: { fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...authHeaders(token) } }) },
  });
}

/** The `endpoint` event a legacy SSE stream opens with: where its POSTs go. */
async function announcedEndpoint(url: string, token: string): Promise<string> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { ...authHeaders(token), Accept: 'text/event-stream' }, signal: abort.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  let text = '';
  try {
    while (!/event: endpoint\ndata: [^\n]*\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  } finally {
    abort.abort();
  }
  return /event: endpoint\ndata: ([^\n?]*)/.exec(text)![1]!;
}

describe('URLs clients recognise', () => {
  let h: TestHost;
  let scratch: string;
  let bundle: ConnectionBundle;
  let token: string;
  before(async () => {
    h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS });
    scratch = mkdtempSync(join(tmpdir(), 'harbor-urls-'));
    const issued = await adminFetch(h.url, h.host.adminSecret, 'POST', '/admin/teammates', { name: 'bob' });
    assert.equal(issued.status, 201);
    const answer = (await issued.json()) as { token: string; bundles: ConnectionBundle[] };
    token = answer.token;
    bundle = answer.bundles.find((b) => b.serverName === 'docs')!;
  });
  after(async () => {
    await h.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('a bundle hands out /<name>/mcp and /t/<token>/<name>/mcp, in every snippet and install link', () => {
    assert.equal(bundle.url, `${h.url}/docs/mcp`);
    assert.equal(bundle.connectorUrl, `${h.url}/t/${token}/docs/mcp`);
    const everything = [...bundle.snippets.map((s) => s.text), ...bundle.installLinks.map((l) => decodeURIComponent(l.url))].join('\n');
    const cursor = new URL(bundle.installLinks.find((l) => l.client === 'cursor')!.url).searchParams.get('config')!;
    const handedOut = `${everything}\n${Buffer.from(cursor, 'base64').toString('utf8')}`;
    assert.ok(handedOut.includes(`${h.url}/docs/mcp`));
    assert.doesNotMatch(handedOut, /\/mcp\/docs/, 'the first form is never handed out');
  });

  test('the Inspector CLI connects to the bundle URL with no --transport flag, in both eras', async () => {
    const env = { ...process.env, HOME: scratch, MCP_INSPECTOR_SECRET_STORE: 'memory', NO_COLOR: '1' };
    const inspector = async (...args: string[]) => {
      const { stdout } = await run(INSPECTOR, ['--cli', ...args], { env, timeout: 60_000 });
      return JSON.parse(stdout) as { tools: Array<{ name: string }> };
    };
    const seen = recordRequests(h);
    const header = ['--header', `Authorization: Bearer ${token}`];
    // Ad hoc: the transport comes from the path; the era from --protocol-era (legacy by default).
    for (const era of ['legacy', 'modern'] as const) {
      seen.length = 0;
      const listed = await inspector(bundle.url, '--method', 'tools/list', ...header, ...(era === 'modern' ? ['--protocol-era', 'modern'] : []));
      assert.ok(listed.tools.some((t) => t.name === 'search_docs'), era);
      const posts = seen.filter((s) => s.path === '/docs/mcp');
      assert.ok(posts.length > 0);
      if (era === 'modern') assert.ok(posts.every((s) => s.version === '2026-07-28' && !s.session), `modern: ${JSON.stringify(posts)}`);
      else assert.ok(posts.some((s) => s.session) && posts.every((s) => s.version !== '2026-07-28'), `legacy: ${JSON.stringify(posts)}`);
    }
    // Its config file carries the era per server (protocolEra); a file entry names its type.
    const config = join(scratch, 'inspector.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { harbor: { type: 'http', url: bundle.url, headers: { Authorization: `Bearer ${token}` }, protocolEra: 'modern' } } }));
    seen.length = 0;
    assert.ok((await inspector('--config', config, '--server', 'harbor', '--method', 'tools/list')).tools.some((t) => t.name === 'search_docs'));
    assert.ok(seen.some((s) => s.version === '2026-07-28'), 'the file-level era was used');
    // The legacy SSE URL is recognised too.
    const viaSse = await inspector(`${h.url}/docs/sse`, '--method', 'tools/list', ...header);
    assert.ok(viaSse.tools.some((t) => t.name === 'search_docs'));
  });

  for (const form of ['header', 'connector'] as const) {
    test(`mcp-remote with the bundle's ${form === 'header' ? 'URL and header' : 'connector URL'}`, async () => {
      const args = form === 'header' ? [MCP_REMOTE, bundle.url, '--header', 'Authorization:${AUTH_HEADER}'] : [MCP_REMOTE, bundle.connectorUrl];
      const transport = new StdioClientTransport({
        command: process.execPath,
        args,
        env: { ...process.env, AUTH_HEADER: `Bearer ${token}`, MCP_REMOTE_CONFIG_DIR: join(scratch, `mcp-remote-${form}`) } as Record<string, string>,
        stderr: 'pipe',
      });
      const client = new Client({ name: 'via-mcp-remote', version: '1' });
      try {
        await client.connect(transport);
        await callDocs(client);
      } finally {
        await client.close();
      }
    });
  }

  test('SDK clients on the new URLs: v1 Streamable HTTP and legacy SSE (POSTs to /<name>/messages), v2 in the 2026-07-28 era', async () => {
    await v1Over(streamable(bundle.url, token));
    await v1Over(streamable(bundle.connectorUrl));
    assert.equal(await announcedEndpoint(`${h.url}/docs/sse`, token), '/docs/messages');
    assert.equal(await announcedEndpoint(`${h.url}/t/${token}/docs/sse`, token), `/t/${token}/docs/messages`);
    await v1Over(sse(`${h.url}/docs/sse`, token));
    const modern = new ClientV2({ name: 'v2', version: '2' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await modern.connect(new TransportV2(new URL(bundle.url), { requestInit: { headers: authHeaders(token) } }));
    try {
      assert.equal(modern.getProtocolEra(), 'modern');
      await callDocs(modern);
    } finally {
      await modern.close();
    }
  });

  test('the first form keeps working: /mcp/<name>, /sse/<name> with /messages/<name>, /t/<token>/mcp/<name>', async () => {
    await v1Over(streamable(`${h.url}/mcp/docs`, token));
    await v1Over(streamable(`${h.url}/t/${token}/mcp/docs`));
    assert.equal(await announcedEndpoint(`${h.url}/sse/docs`, token), '/messages/docs');
    await v1Over(sse(`${h.url}/sse/docs`, token));
    const modern = new ClientV2({ name: 'v2', version: '2' }, { versionNegotiation: { mode: 'auto' } });
    await modern.connect(new TransportV2(new URL(`${h.url}/mcp/docs`), { requestInit: { headers: authHeaders(token) } }));
    try {
      assert.equal(modern.getProtocolEra(), 'modern');
      await callDocs(modern);
    } finally {
      await modern.close();
    }
  });

  test('an unknown server or endpoint on either form is a 404 that names what is served', async () => {
    for (const path of ['/nope/mcp', '/mcp/nope']) {
      const res = await fetch(h.url + path, { method: 'POST', headers: { ...authHeaders(token), 'Content-Type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 404, path);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /No server named "nope"; served: docs/);
    }
    assert.equal((await fetch(`${h.url}/docs/rest`, { headers: authHeaders(token) })).status, 404);
  });
});

describe('Sign in with Harbor on the new URLs', () => {
  test('metadata for /<name>/mcp names it as the resource; a grant for it works at the first form too', async () => {
    const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both' });
    try {
      const challenge = await fetch(`${h.url}/docs/mcp`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      assert.equal(challenge.status, 401);
      assert.match(challenge.headers.get('www-authenticate')!, new RegExp(`resource_metadata="${h.url}/.well-known/oauth-protected-resource/docs/mcp"`));
      for (const [path, resource] of [['/docs/mcp', '/docs/mcp'], ['/docs/sse', '/docs/sse'], ['/mcp/docs', '/mcp/docs']]) {
        const prm = (await (await fetch(`${h.url}/.well-known/oauth-protected-resource${path}`)).json()) as { resource: string };
        assert.equal(prm.resource, `${h.url}${resource}`, path);
      }
      assert.equal((await fetch(`${h.url}/.well-known/oauth-protected-resource/nope/mcp`)).status, 404);

      const provider = new MemoryOAuthClient();
      const first = new Client({ name: 'oauth', version: '1' });
      const url = `${h.url}/docs/mcp`;
      await assert.rejects(first.connect(streamable(url, undefined, { authProvider: provider })), UnauthorizedError);
      assert.equal(provider.authorizationUrl!.searchParams.get('resource'), url, 'the client asked for the new URL as its resource');
      const redirect = await signInAndApprove(h.url, h.host.adminSecret, provider.authorizationUrl!, 'erin');
      const finishing = streamable(url, undefined, { authProvider: provider });
      await finishing.finishAuth(redirect.searchParams.get('code')!);
      await v1Over(streamable(url, undefined, { authProvider: provider }));
      // The same grant at /mcp/docs: the same server endpoint, so the same teammate gets in.
      await v1Over(streamable(`${h.url}/mcp/docs`, provider.saved!.access_token));
      // Not at the server's other endpoint (its legacy SSE pair is a resource of its own).
      assert.equal((await fetch(`${h.url}/docs/sse`, { headers: authHeaders(provider.saved!.access_token) })).status, 401);
    } finally {
      await h.close();
    }
  });
});
