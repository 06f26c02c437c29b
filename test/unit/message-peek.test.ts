import assert from 'node:assert/strict';
import { test } from 'node:test';
import { peekTopLevel, trailingId } from '../../server/gateway/message-peek.ts';
import { readOversizedLine, readUpstreamLine } from '../../server/gateway/upstream-line.ts';

const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

test('peekTopLevel finds the top-level id wherever it is, skipping deep values, ignoring nested ids', () => {
  assert.deepEqual(peekTopLevel(`{"result":{"id":99,"v":${deep(100_000)}},"jsonrpc":"2.0","id":7}`), { id: 7, idSeen: true, response: true, method: false });
  assert.deepEqual(peekTopLevel('{"jsonrpc":"2.0","id":"a\\"b","method":"x"'), { id: 'a"b', idSeen: true, response: false, method: true });
  // Cut off: what was seen is kept, an id cut mid-number is not taken.
  assert.deepEqual(peekTopLevel('{"jsonrpc":"2.0","id":12'), { id: undefined, idSeen: false, response: false, method: false });
  assert.deepEqual(peekTopLevel('{"result":{"text":"xxxx'), { id: undefined, idSeen: false, response: true, method: false });
  assert.deepEqual(peekTopLevel('[1]').idSeen, false);
});

test('trailingId reads an id written last at the top level only', () => {
  assert.equal(trailingId('..."jsonrpc":"2.0","id":42}'), 42);
  assert.equal(trailingId('...{"id":42}}'), undefined);
  assert.equal(trailingId('..."id":"42"}'), undefined);
});

test('readUpstreamLine: valid messages pass; the rest say why and which call they answered', () => {
  assert.equal(readUpstreamLine('{"jsonrpc":"2.0","id":1,"result":{}}').ok, true);
  for (const line of ['null', '42', '"s"', 'true', '[]', '[1,2]', '{}', '{"jsonrpc":"2.0"}', '{"jsonrpc":"2.0","method":5}']) {
    const read = readUpstreamLine(line);
    assert.equal(read.ok, false, line);
    assert.equal(!read.ok && read.id, undefined, line);
  }
  const tooDeep = readUpstreamLine(`{"result":${deep(100_000)},"jsonrpc":"2.0","id":3}`);
  assert.deepEqual(tooDeep.ok ? null : [tooDeep.id, tooDeep.response], [3, true]);
  assert.match(tooDeep.ok ? '' : tooDeep.reason, /deeper than 512/);
  // A request from the server has an id of its own: it answers none of Harbor's calls.
  const request = readUpstreamLine(`{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage","params":{"v":${deep(1000)}}}`);
  assert.equal(!request.ok && request.id, undefined);
  const objectId = readUpstreamLine('{"jsonrpc":"2.0","id":{},"result":{}}');
  assert.deepEqual(objectId.ok ? null : [objectId.id, objectId.response], [undefined, false]);
});

test('readOversizedLine: id from the head, else the tail; a notification answers nothing', () => {
  assert.equal(readOversizedLine('{"jsonrpc":"2.0","id":5,"result":{"x":"xxx', '', 100).id, 5);
  assert.equal(readOversizedLine('{"result":{"x":"xxx', 'xxx"},"jsonrpc":"2.0","id":6}', 100).id, 6);
  assert.deepEqual(readOversizedLine('{"result":{"x":"xxx', 'xxx"},"jsonrpc":"2.0"}', 100).response, true);
  const notification = readOversizedLine('{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"xx', 'xx"},"id":9}', 100);
  assert.deepEqual([notification.id, notification.response], [undefined, false]);
});
