/**
 * One server-name rule: what the config accepts is what the URL router routes (a 101-character name
 * used to load and then answer 404), and the renderer's form pattern agrees with it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HarborConfigSchema } from '../../server/config/config-schema.ts';
import { isServerName, SERVER_NAME_MAX_LENGTH, SERVER_NAME_RULE } from '../../server/gateway/server-name.ts';
import { fixtureServer, ROOT, startTestHost } from '../helpers/harbor.ts';

const longest = 'a'.repeat(SERVER_NAME_MAX_LENGTH);
const tooLong = 'a'.repeat(SERVER_NAME_MAX_LENGTH + 1);
const samples: Array<[string, boolean]> = [
  ['github', true],
  ['my_server.v2-beta', true],
  [longest, true],
  [tooLong, false],
  ['', false],
  ['a b', false],
  ['a/b', false],
  ['caf\u00e9', false],
];

test('isServerName: letters, digits, _ . - and at most 100 characters', () => {
  for (const [name, ok] of samples) assert.equal(isServerName(name), ok, name);
});

test('the config schema applies the same rule, with the rule in its message', () => {
  assert.ok(HarborConfigSchema.safeParse({ mcpServers: { [longest]: { command: 'x' } } }).success);
  const refused = HarborConfigSchema.safeParse({ mcpServers: { [tooLong]: { command: 'x' } } });
  assert.equal(refused.success, false);
  // zod nests a record key's issue under an `invalid_key` one.
  assert.ok(JSON.stringify(refused.error?.issues).includes(SERVER_NAME_RULE));
});

test("the renderer's form pattern accepts exactly the same names", () => {
  const source = readFileSync(join(ROOT, 'renderer/sections/servers.ts'), 'utf8');
  const pattern = /id: 'server-name',[^}]*pattern: '([^']+)'/.exec(source)?.[1]?.replace(/\\\\/g, '\\');
  assert.ok(pattern, 'the server-name input has a pattern');
  // Browsers compile an input's pattern anchored and with the v flag.
  const html = new RegExp(`^(?:${pattern})$`, 'v');
  for (const [name, ok] of samples) assert.equal(html.test(name), ok, name);
});

test('a name of the longest allowed length routes; one character more is not a route', async () => {
  const harbor = await startTestHost({ mcpServers: { [longest]: fixtureServer({}, { mode: 'isolated' }) } });
  try {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    const routed = await fetch(`${harbor.url}/mcp/${longest}`, { method: 'POST', headers: { ...headers, Authorization: `Bearer ${harbor.token}` }, body: initialize });
    assert.equal(routed.status, 200, await routed.text());
    const unrouted = await fetch(`${harbor.url}/mcp/${tooLong}`, { method: 'POST', headers: { ...headers, Authorization: `Bearer ${harbor.token}` }, body: initialize });
    assert.equal(unrouted.status, 404);
    await unrouted.body?.cancel();
  } finally {
    await harbor.close();
  }
});
