import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answeredCallEvent, toolErrorText } from '../../server/gateway/call-event.ts';
import { recordingPeer } from '../helpers/recording-peer.ts';

test('an answered call: protocol error, tool error with its text, or success', () => {
  const session = recordingPeer('alice');
  const call = { session, method: 'tools/call', tool: 'echo' };
  const failed = answeredCallEvent(call, { jsonrpc: '2.0', id: 1, error: { code: -32001, message: 'down' } }, 12);
  assert.deepEqual(failed, { session, method: 'tools/call', tool: 'echo', durationMs: 12, error: 'down', toolError: false, toolErrorText: undefined, cached: false });
  const toolFailed = answeredCallEvent(call, { jsonrpc: '2.0', id: 1, result: { isError: true, content: [{ type: 'text', text: ' no such file ' }, { type: 'image', data: '' }, { type: 'text', text: 'sorry' }] } }, 3);
  assert.equal(toolFailed.toolError, true);
  assert.equal(toolFailed.toolErrorText, 'no such file \nsorry');
  const ok = answeredCallEvent(call, { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'fine' }] } }, 1);
  assert.equal(ok.toolError, false);
  assert.equal(ok.toolErrorText, undefined);
});

test('a failed tool\'s text is read up to 2000 characters; no text is undefined', () => {
  assert.equal(toolErrorText({ isError: true, content: [{ type: 'text', text: 'x'.repeat(5000) }] })!.length, 2000);
  assert.equal(toolErrorText({ isError: true, content: [{ type: 'text', text: '   ' }] }), undefined);
  assert.equal(toolErrorText({ isError: true, content: 'text' }), undefined);
  assert.equal(toolErrorText({ isError: false, content: [{ type: 'text', text: 'x' }] }), undefined);
  assert.equal(toolErrorText(null), undefined);
});
