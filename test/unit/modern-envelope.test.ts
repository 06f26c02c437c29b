import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkVersion, claimsEnvelope, isModernMessage, parseEnvelope } from '../../server/modern/envelope.ts';

const SUPPORTED = ['2026-07-28', '2025-11-25', '2025-06-18'];
const V = 'io.modelcontextprotocol/protocolVersion';
const CAPS = 'io.modelcontextprotocol/clientCapabilities';
const INFO = 'io.modelcontextprotocol/clientInfo';

function request(meta: unknown) {
  return { jsonrpc: '2.0' as const, id: 1, method: 'tools/list', params: meta === undefined ? {} : { _meta: meta } };
}

test('a body claim or a modern header makes a message modern; initialize and plain requests stay legacy', () => {
  assert.equal(isModernMessage(request({ [V]: '2026-07-28', [CAPS]: {} }), undefined), true);
  // A malformed claim is still modern (refused -32602 later), never served as legacy.
  assert.equal(isModernMessage(request({ [V]: 42 }), undefined), true);
  assert.equal(isModernMessage(request(undefined), ' 2026-07-28 '), true);
  assert.equal(isModernMessage({ method: 'initialize', params: { protocolVersion: '2025-11-25' } }, '2025-11-25'), false);
  assert.equal(isModernMessage(request({ progressToken: 1 }), undefined), false);
  assert.equal(claimsEnvelope({ params: { _meta: [] } }), false);
});

test('a valid envelope yields version, capabilities and client info; clientInfo is optional', () => {
  const full = parseEnvelope(request({ [V]: '2026-07-28', [CAPS]: { sampling: {} }, [INFO]: { name: 'c', version: '1' } }));
  assert.ok(full.ok);
  assert.deepEqual(full.envelope, { protocolVersion: '2026-07-28', clientCapabilities: { sampling: {} }, clientInfo: { name: 'c', version: '1' }, logLevel: undefined });
  const bare = parseEnvelope(request({ [V]: '2026-07-28', [CAPS]: {} }));
  assert.ok(bare.ok);
  assert.equal(bare.envelope.clientInfo, undefined);
});

test('a missing or malformed envelope is 400 with -32602 naming the key', () => {
  for (const [meta, key] of [
    [undefined, '_meta'],
    [{ [CAPS]: {} }, 'protocolVersion'],
    [{ [V]: '2026-07-28' }, 'clientCapabilities'],
    [{ [V]: '2026-07-28', [CAPS]: [] }, 'clientCapabilities'],
    [{ [V]: '2026-07-28', [CAPS]: {}, [INFO]: { name: 3 } }, 'clientInfo'],
    [{ [V]: '2026-07-28', [CAPS]: {}, 'io.modelcontextprotocol/logLevel': 'loud' }, 'logLevel'],
  ] as const) {
    const result = parseEnvelope(request(meta));
    assert.equal(result.ok, false, JSON.stringify(meta));
    if (result.ok) continue;
    assert.equal(result.refusal.status, 400);
    assert.equal(result.refusal.code, -32602);
    assert.match(result.refusal.message, new RegExp(key));
  }
});

test('an unknown or legacy version inside a well-formed envelope is 400 with -32022 and the supported list', () => {
  for (const version of ['1900-01-01', '2025-11-25']) {
    const result = parseEnvelope(request({ [V]: version, [CAPS]: {} }));
    assert.ok(result.ok, 'the shape is fine');
    const refusal = checkVersion(result.envelope, SUPPORTED);
    assert.ok(refusal);
    assert.equal(refusal.status, 400);
    assert.equal(refusal.code, -32022);
    assert.deepEqual(refusal.data, { supported: SUPPORTED, requested: version });
  }
});

test('the current revision passes the version check', () => {
  const result = parseEnvelope(request({ [V]: '2026-07-28', [CAPS]: {} }));
  assert.ok(result.ok);
  assert.equal(checkVersion(result.envelope, SUPPORTED), null);
});
