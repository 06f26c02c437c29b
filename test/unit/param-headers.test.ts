import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkParamHeaders, paramHeadersOf } from '../../server/modern/param-headers.ts';
import { ToolSchemas } from '../../server/modern/tool-schemas.ts';

const SCHEMA = {
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': 'Region' },
    priority: { type: 'integer', 'x-mcp-header': 'Priority' },
    verbose: { type: 'boolean', 'x-mcp-header': 'Verbose' },
    target: { type: 'object', properties: { zone: { type: 'string', 'x-mcp-header': 'Zone' } } },
    list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Item' } },
    bad: { type: 'string', 'x-mcp-header': 'not a token' },
    plain: { type: 'string' },
  },
};
const DECLARED = paramHeadersOf(SCHEMA);
const b64 = (text: string) => `=?base64?${Buffer.from(text, 'utf8').toString('base64')}?=`;
const check = (args: unknown, headers: Record<string, string>) => checkParamHeaders(DECLARED, args, headers);

test('declarations are read through properties only, with their path and type', () => {
  assert.deepEqual(DECLARED, [
    { path: ['region'], name: 'Region', type: 'string' },
    { path: ['priority'], name: 'Priority', type: 'integer' },
    { path: ['verbose'], name: 'Verbose', type: 'boolean' },
    { path: ['target', 'zone'], name: 'Zone', type: 'string' },
  ]);
  assert.equal(paramHeadersOf(SCHEMA), DECLARED, 'remembered per schema object');
  assert.deepEqual(paramHeadersOf(undefined), []);
  assert.deepEqual(paramHeadersOf({ 'x-mcp-header': 'Root', type: 'string' }), [], 'the root is no argument');
});

test('matching headers pass: literal, base64 sentinel, OWS, any header-name case, numbers compared as numbers', () => {
  assert.equal(check({ region: 'eu-west', priority: 3, verbose: true, target: { zone: 'b' } }, { 'mcp-param-region': '  eu-west ', 'mcp-param-priority': '3.0', 'mcp-param-verbose': 'true', 'mcp-param-zone': 'b' }), null);
  assert.equal(check({ region: 'Zürich' }, { 'mcp-param-region': b64('Zürich') }), null);
  // Without both sentinel markers the value is literal, even when it looks like base64.
  assert.equal(check({ region: 'SGVsbG8=' }, { 'mcp-param-region': 'SGVsbG8=' }), null);
  assert.equal(check({ region: '=?base64?SGVsbG8=' }, { 'mcp-param-region': '=?base64?SGVsbG8=' }), null);
  // An absent or null body value expects no header; one sent anyway is ignored.
  assert.equal(check({ region: null }, { 'mcp-param-region': 'anything' }), null);
  assert.equal(check({}, {}), null);
  assert.equal(check(undefined, {}), null);
});

test('a missing, malformed or different header is 400 with -32020, naming the header', () => {
  const refusals = [
    check({ region: 'test-value' }, {}),
    check({ region: 'Hello' }, { 'mcp-param-region': '=?base64?SGVsbG8?=' }), // bad padding
    check({ region: 'Hello' }, { 'mcp-param-region': '=?base64?SGVs!!!bG8=?=' }), // outside the alphabet
    check({ region: 'Hello' }, { 'mcp-param-region': '=?base64?/w==?=' }), // not UTF-8
    check({ region: 'eu' }, { 'mcp-param-region': 'us' }),
    check({ priority: 3 }, { 'mcp-param-priority': 'three' }),
    check({ verbose: false }, { 'mcp-param-verbose': 'False' }),
    check({ target: { zone: 'a' } }, { 'mcp-param-zone': 'b' }),
  ];
  for (const refusal of refusals) {
    assert.ok(refusal);
    assert.equal(refusal.status, 400);
    assert.equal(refusal.code, -32020);
    assert.match(refusal.message, /^Header mismatch: .*Mcp-Param-(Region|Priority|Verbose|Zone)/);
  }
  assert.match(refusals[0]!.message, /Mcp-Param-Region header is required: the body carries region/);
});

test('learned schemas: from a whole list, fetched when unknown or older than the bound, one fetch at a time', async () => {
  let now = 1_000;
  const schemas = new ToolSchemas({ maxAgeMs: 60_000, now: () => now });
  const server = {};
  let fetches = 0;
  const pages: Record<string, unknown> = {
    first: { tools: [{ name: 'a', inputSchema: { n: 1 } }], nextCursor: 'p2' },
    p2: { tools: [{ name: 'b', inputSchema: { n: 2 } }] },
  };
  const fetchPage = async (cursor: string | undefined) => {
    fetches++;
    return pages[cursor ?? 'first'];
  };
  const [a, b] = await Promise.all([schemas.schemaOf(server, 'a', fetchPage), schemas.schemaOf(server, 'b', fetchPage)]);
  assert.deepEqual([a, b, fetches], [{ n: 1 }, { n: 2 }, 2], 'both pages, fetched once for both calls');
  assert.equal(await schemas.schemaOf(server, 'c', fetchPage), undefined);
  assert.equal(fetches, 2, 'a tool the fresh list lacks is not fetched for');
  now += 60_000;
  await schemas.schemaOf(server, 'a', fetchPage);
  assert.equal(fetches, 4, 'an old list is fetched again');
  schemas.learn(server, { tools: [{ name: 'c', inputSchema: { n: 3 } }] }, true);
  assert.deepEqual(await schemas.schemaOf(server, 'c', fetchPage), { n: 3 });
  assert.equal(fetches, 4, 'learned from a list that passed through');
  // A later page alone does not make the list whole: an unknown tool is still fetched for.
  const other = {};
  schemas.learn(other, { tools: [{ name: 'x', inputSchema: {} }] }, false);
  assert.equal(await schemas.schemaOf(other, 'y', async () => (fetches++, { tools: [] })), undefined);
  assert.equal(fetches, 5);
  // A failed fetch keeps nothing fresh: the next call asks again.
  const failing = {};
  assert.equal(await schemas.schemaOf(failing, 'a', async () => (fetches++, null)), undefined);
  assert.equal(await schemas.schemaOf(failing, 'a', async () => (fetches++, null)), undefined);
  assert.equal(fetches, 7);
});
