import assert from 'node:assert/strict';
import { test } from 'node:test';
import { discoverResult } from '../../server/modern/discover.ts';
import { cacheScopeFor, decorateResult } from '../../server/modern/result-decoration.ts';

const SERVER_INFO = { name: 'everything', version: '2.0.0' };

test('server/discover republishes the upstream initialize result: capabilities, identity, instructions, versions', () => {
  const result = discoverResult(
    { capabilities: { tools: { listChanged: true }, logging: {}, resources: { subscribe: true } }, serverInfo: SERVER_INFO, instructions: 'Use echo.' },
    ['2026-07-28', '2025-11-25'],
    60_000,
  );
  assert.deepEqual(result, {
    resultType: 'complete',
    supportedVersions: ['2026-07-28', '2025-11-25'],
    capabilities: { tools: { listChanged: true }, resources: { subscribe: true } },
    _meta: { 'io.modelcontextprotocol/serverInfo': SERVER_INFO },
    instructions: 'Use echo.',
    ttlMs: 60_000,
    cacheScope: 'public',
  });
  assert.equal('instructions' in discoverResult({ capabilities: {}, serverInfo: SERVER_INFO }, ['2026-07-28'], 0), false);
});

test('every result gets resultType; list and read results get caching hints; a call does not', () => {
  const policy = { ttlMs: 30_000, cacheScope: 'public' as const };
  const list = decorateResult({ tools: [] }, { method: 'tools/list', policy, serverInfo: SERVER_INFO });
  assert.deepEqual(list, { tools: [], resultType: 'complete', ttlMs: 30_000, cacheScope: 'public', _meta: { 'io.modelcontextprotocol/serverInfo': SERVER_INFO } });
  const call = decorateResult({ content: [] }, { method: 'tools/call', policy });
  assert.deepEqual(call, { content: [], resultType: 'complete' });
  assert.deepEqual(decorateResult(undefined, { method: 'completion/complete', policy }), { resultType: 'complete' });
});

test('an upstream that already speaks modern keeps its fields, but never "public" for a per-teammate answer', () => {
  const own = decorateResult({ resultType: 'complete', ttlMs: 5, cacheScope: 'public', contents: [] }, { method: 'resources/read', policy: { ttlMs: 0, cacheScope: 'private' } });
  assert.equal(own.ttlMs, 5);
  assert.equal(own.cacheScope, 'private');
  const bad = decorateResult({ ttlMs: -1, cacheScope: 'everyone', prompts: [] }, { method: 'prompts/list', policy: { ttlMs: 0, cacheScope: 'public' } });
  assert.equal(bad.ttlMs, 0);
  assert.equal(bad.cacheScope, 'public');
  const interim = decorateResult({ resultType: 'input_required', requestState: 'x' }, { method: 'resources/read', policy: { ttlMs: 9, cacheScope: 'private' } });
  assert.equal('ttlMs' in interim, false, 'input_required results carry no caching hints');
});

test('cache scope: private for an isolated upstream and for every read; public for shared lists', () => {
  assert.equal(cacheScopeFor('tools/list', false), 'public');
  assert.equal(cacheScopeFor('tools/list', true), 'private');
  assert.equal(cacheScopeFor('resources/read', false), 'private');
});
