import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JsonRpcRequest } from '../../server/gateway/jsonrpc.ts';
import { checkRequestHeaders, decodeHeaderValue } from '../../server/modern/request-headers.ts';

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const call: JsonRpcRequest = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_weather', arguments: {}, _meta: META } };
const read: JsonRpcRequest = { jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'file:///a b/ü.txt', _meta: META } };
const good = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'get_weather' };
const b64 = (s: string) => `=?base64?${Buffer.from(s).toString('base64')}?=`;

test('matching headers pass, with whitespace around values and the base64 form of Mcp-Name', () => {
  assert.equal(checkRequestHeaders(good, call), null);
  assert.equal(checkRequestHeaders({ 'mcp-protocol-version': ' 2026-07-28\t', 'mcp-method': ' tools/call ', 'mcp-name': ' get_weather ' }, call), null);
  assert.equal(checkRequestHeaders({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'resources/read', 'mcp-name': b64('file:///a b/ü.txt') }, read), null);
  // Mcp-Name is only required where the body has a name or uri.
  const list: JsonRpcRequest = { jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: META } };
  assert.equal(checkRequestHeaders({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' }, list), null);
});

test('a missing, different, case-changed or malformed header is 400 with -32020', () => {
  const cases: Array<Record<string, string>> = [
    { 'mcp-method': 'tools/call', 'mcp-name': 'get_weather' },
    { ...good, 'mcp-protocol-version': '2025-11-25' },
    { 'mcp-protocol-version': '2026-07-28', 'mcp-name': 'get_weather' },
    { ...good, 'mcp-method': 'Tools/Call' },
    { ...good, 'mcp-method': 'tools/list' },
    { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' },
    { ...good, 'mcp-name': 'other' },
    { ...good, 'mcp-name': '=?base64?not base64!?=' },
    { ...good, 'mcp-name': '=?base64?Z2V0X3dlYXRoZXI?=' }, // missing padding
  ];
  for (const headers of cases) {
    const refusal = checkRequestHeaders(headers, call);
    assert.ok(refusal, JSON.stringify(headers));
    assert.equal(refusal.status, 400);
    assert.equal(refusal.code, -32020);
    assert.match(refusal.message, /^Header mismatch: /);
  }
});

test('header values: plain ASCII is literal, the sentinel is decoded, invalid bytes are refused', () => {
  assert.equal(decodeHeaderValue('us-west1'), 'us-west1');
  assert.equal(decodeHeaderValue('=?base64?SGVsbG8sIOS4lueVjA==?='), 'Hello, 世界');
  assert.equal(decodeHeaderValue('=?BASE64?SGk=?='), '=?BASE64?SGk=?='); // markers are case-sensitive: literal
  assert.equal(decodeHeaderValue('a\nb'), undefined);
  assert.equal(decodeHeaderValue(`=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`), undefined);
});
