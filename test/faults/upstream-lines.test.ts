/**
 * Issue 12, defects 1, 2 and 5: whatever a hosted stdio server prints, the host child survives (same
 * pid, no restart), the caller it answered gets a clear error instead of waiting for the (hour-long)
 * request timeout, and the server is usable afterwards.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { textOf } from '../helpers/harbor.ts';
import { hostileEntry, NO_CLIENT_TIMEOUT, startSupervisedHost, type SupervisedHost } from './fixtures/hostile-host.ts';

const MAX_LINE_BYTES = 1024 * 1024;

let host: SupervisedHost;
let client: Client;

// A host per test, so each defect shows on its own (before the fixes, the first crash would
// otherwise fail every later test for the wrong reason).
beforeEach(async () => {
  host = await startSupervisedHost({ hostile: hostileEntry({ maxLineBytes: MAX_LINE_BYTES }) });
  client = await host.connect('hostile');
});

afterEach(async () => {
  await client?.close().catch(() => {});
  await host?.close();
});

function call(name: string, args: Record<string, unknown>) {
  return client.callTool({ name, arguments: args }, undefined, NO_CLIENT_TIMEOUT);
}

async function assertHostSurvivedAndServes(): Promise<void> {
  assert.equal(host.controller.supervisor?.pid, host.firstPid, 'the host child was replaced');
  assert.equal(host.controller.info()?.restarts, 0);
  assert.equal(textOf(await call('echo', { text: 'still here' })), 'still here');
}

test('defect 1: valid JSON that is not a JSON-RPC message is dropped; the call is answered normally', async () => {
  const lines = ['null', '42', '"s"', 'true', '[]', '[1,2]', '{}', '{"jsonrpc":"2.0"}', '{"jsonrpc":"2.0","method":5}', 'not json at all', '{"jsonrpc":"2.0","id":{},"result":{}}'];
  for (const line of lines) {
    assert.equal(textOf(await call('print_line', { line })), 'printed', line);
  }
  // A server printing garbage in a loop: many lines, one host.
  for (let i = 0; i < 50; i++) await call('print_line', { line: '[1,2]' });
  await assertHostSurvivedAndServes();
});

test('defect 1: an invalid answer carrying the call\'s id fails that call at once', async () => {
  await assert.rejects(call('print_line', { line: '{"jsonrpc":"2.0","id":$ID}', answer: false }), /answered with an invalid message/);
  // Cut off mid-line: not JSON, but its id is in its first bytes.
  await assert.rejects(call('print_line', { line: '{"jsonrpc":"2.0","id":$ID,"result":{"content":[{"type":"te', answer: false }), /answered with a line that is not JSON/);
  await assertHostSurvivedAndServes();
});

test('defect 2: an answer nested 100 000 deep fails its call with a clear error; one within the bound passes', async () => {
  await assert.rejects(call('deep_answer', { depth: 100_000 }), /nested deeper than 512 levels/);
  const shallow = await call('deep_answer', { depth: 100 });
  assert.equal(textOf(shallow), 'deep');
  await assertHostSurvivedAndServes();
});

test('defect 2: a list_changed nested 100 000 deep is dropped', async () => {
  assert.equal(textOf(await call('deep_list_changed', { depth: 100_000 })), 'sent');
  await assertHostSurvivedAndServes();
});

test('defect 5: a line over maxLineBytes fails the call it answered at once, wherever its id is', async () => {
  const bytes = 4 * MAX_LINE_BYTES;
  const overLimit = new RegExp(`longer than its limit of ${MAX_LINE_BYTES} bytes`);
  await assert.rejects(call('huge_line', { bytes, id: 'first' }), overLimit); // known from the head, at once
  await assert.rejects(call('huge_line', { bytes, id: 'last' }), overLimit); // known from the tail (the TS SDK's order)
  await assert.rejects(call('huge_line', { bytes, id: 'none' }), overLimit); // the only call in flight
  assert.equal(textOf(await call('huge_line', { bytes, kind: 'notification' })), 'sent'); // a notification: dropped
  const within = await call('huge_line', { bytes: MAX_LINE_BYTES - 1000, id: 'last' });
  assert.equal(textOf(within).length, MAX_LINE_BYTES - 1000);
  await assertHostSurvivedAndServes();
});
