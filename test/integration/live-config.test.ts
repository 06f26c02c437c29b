import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pino from 'pino';
import { adminFetch } from '../helpers/oauth-browser.ts';
import { connectClient, fixtureServer, startTestHost, waitFor, type TestHost } from '../helpers/harbor.ts';

/**
 * config.json edited while Harbor runs (issue 15.3): servers added, changed and removed live, a typo
 * refused with the old config still served, and the sessions of untouched servers (docs, keep)
 * answering under the same session id throughout.
 */
describe('config.json edited live', () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  let h: TestHost;
  let file: string;
  let keep: Client;
  let docs: Client;
  let keepSession: string | undefined;
  let docsSession: string | undefined;
  const servers: Record<string, object> = { keep: fixtureServer(), change: fixtureServer({ TAG: 'one' }), gone: fixtureServer() };

  /** Saved as editors save: a temp file renamed over the old one. */
  const save = (json: object) => {
    writeFileSync(`${file}.edit`, JSON.stringify(json, null, 2));
    renameSync(`${file}.edit`, file);
  };
  const pidOf = async (client: Client) => ((await client.callTool({ name: 'pid', arguments: {} })).content as Array<{ text: string }>)[0]!.text;
  const sessionOf = (client: Client) => (client.transport as StreamableHTTPClientTransport).sessionId;
  const post = (server: string) => fetch(`${h.url}/mcp/${server}`, { method: 'POST', headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json' }, body: '{}' });

  before(async () => {
    h = await startTestHost({ mcpServers: servers }, { log, liveConfig: { debounceMs: 50, pollMs: 250 } });
    file = join(h.home, 'config.json');
    keep = await connectClient(h.url, 'keep', h.token);
    docs = await connectClient(h.url, 'docs', h.token);
    keepSession = sessionOf(keep);
    docsSession = sessionOf(docs);
    assert.ok(keepSession && docsSession);
  });

  after(async () => {
    await keep?.close();
    await docs?.close();
    await h?.close();
  });

  it('adds, restarts and removes only the servers whose entries changed', async () => {
    const change = await connectClient(h.url, 'change', h.token);
    const oldPid = await pidOf(change);
    const keepPid = await pidOf(keep);
    save({ mcpServers: { keep: servers.keep, change: fixtureServer({ TAG: 'two' }), added: fixtureServer() } });

    await waitFor(() => h.host.servers.has('added') && !h.host.servers.has('gone'), 20_000, 'the edit to be applied');
    const added = await connectClient(h.url, 'added', h.token);
    assert.match(await pidOf(added), /^\d+$/);
    await added.close();

    // The changed server restarted: the old session is gone (404, the client re-initialises), a new one runs a new process.
    await assert.rejects(change.callTool({ name: 'pid', arguments: {} }));
    await change.close();
    const renewed = await connectClient(h.url, 'change', h.token);
    assert.notEqual(await pidOf(renewed), oldPid);
    await renewed.close();

    const res = await post('gone');
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /^No server named "gone"/);

    assert.equal(await pidOf(keep), keepPid, 'the untouched server kept its process');
    assert.equal(sessionOf(keep), keepSession);
    assert.ok((await docs.listTools()).tools.some((t) => t.name === 'search_docs'), 'the docs server is kept');
  });

  it('refuses a typo with its field path, keeps serving the old config, and clears the reason once fixed', async () => {
    const before = [...h.host.servers.keys()].sort();
    save({ mcpServers: { keep: { ...servers.keep, comand: 'oops' }, change: fixtureServer({ TAG: 'two' }), added: fixtureServer() } });
    const refused = await waitFor(() => lines.find((l) => l.includes('config.json edit refused')), 20_000, 'the refusal to be logged');
    assert.match(refused, /mcpServers\.keep: unknown field \\?"comand\\?"/);
    assert.ok(h.host.observability.health().reasons.some((r) => r.startsWith('config.json edit not applied') && r.includes('mcpServers.keep')));
    assert.deepEqual([...h.host.servers.keys()].sort(), before);
    assert.match(await pidOf(keep), /^\d+$/);

    save({ mcpServers: { keep: servers.keep, change: fixtureServer({ TAG: 'two' }), added: fixtureServer() } });
    await waitFor(() => !h.host.observability.health().reasons.some((r) => r.startsWith('config.json edit not applied')), 20_000, 'the reason to clear');
    assert.deepEqual([...h.host.servers.keys()].sort(), before);
  });

  it("the admin API's add is not applied twice when the watcher sees its edit", async () => {
    // The dashboard's form sends env (KEY=VALUE lines): written to config.json, never echoed back.
    const res = await adminFetch(h.url, h.host.adminSecret, 'POST', '/admin/servers', { name: 'viaapi', ...fixtureServer({ VIAAPI_TOKEN: 'secret-value-123' }) });
    const answer = await res.text();
    assert.equal(res.status, 201, answer);
    assert.ok(!answer.includes('secret-value-123'));
    const status = await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/status')).text();
    assert.ok(status.includes('viaapi') && !status.includes('secret-value-123'));
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { mcpServers: { viaapi: { env: Record<string, string> } } }).mcpServers.viaapi.env.VIAAPI_TOKEN, 'secret-value-123');
    const client = await connectClient(h.url, 'viaapi', h.token);
    const pid = await pidOf(client);
    // A later edit is applied after the admin's own (one at a time, in order): once it is, the admin's was seen.
    const current = JSON.parse(readFileSync(file, 'utf8')) as { mcpServers: Record<string, object> };
    save({ mcpServers: { ...current.mcpServers, later: fixtureServer() } });
    await waitFor(() => h.host.servers.has('later'), 20_000, 'the later edit');
    assert.equal(await pidOf(client), pid, 'the server added through the admin API kept its process and session');
    assert.ok(!lines.some((l) => l.includes('"server":"viaapi"') && l.includes('config.json: server')));
    await client.close();
  });

  it('sessions of untouched servers survived every edit', async () => {
    assert.equal(sessionOf(keep), keepSession);
    assert.equal(sessionOf(docs), docsSession);
    assert.match(await pidOf(keep), /^\d+$/);
    assert.ok((await docs.listTools()).tools.length > 0);
  });
});
