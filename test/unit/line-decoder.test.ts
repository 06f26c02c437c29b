import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineDecoder, PEEK_BYTES, type DecodedLine } from '../../server/gateway/line-decoder.ts';

const lines = (items: DecodedLine[]) => items.filter((i) => i.kind === 'line').map((i) => (i as { text: string }).text);

test('splits lines across chunks, drops \\r and empty lines, decodes UTF-8 split mid-character', () => {
  const decoder = new LineDecoder();
  const euro = Buffer.from('€'); // 3 bytes
  const out = [
    ...decoder.push(Buffer.from('{"a":1}\r\n\n{"b":')),
    ...decoder.push(Buffer.concat([Buffer.from('"'), euro.subarray(0, 1)])),
    ...decoder.push(Buffer.concat([euro.subarray(1), Buffer.from('"}\n{"c"')])),
  ];
  assert.deepEqual(lines(out), ['{"a":1}', '{"b":"€"}']);
  assert.deepEqual(lines(decoder.push(Buffer.from(':3}\n'))), ['{"c":3}']);
});

test('linear: a long line pushed in many small chunks is scanned once and copied once', () => {
  const decoder = new LineDecoder();
  const chunk = Buffer.alloc(1000, 0x78);
  const chunks = 5000; // a 5 MB line in 1 kB chunks: the old decoder re-joined and re-split it 5000 times
  for (let i = 0; i < chunks; i++) assert.deepEqual(decoder.push(chunk), []);
  const out = decoder.push(Buffer.from('\n'));
  assert.equal(lines(out)[0]!.length, chunks * chunk.length);
  assert.equal(decoder.counters.scannedBytes, chunks * chunk.length + 1);
  assert.equal(decoder.counters.copiedBytes, chunks * chunk.length);
});

test('a line over the limit is reported when it crosses the limit with its head, and at its end with its tail and size', () => {
  const limit = 10_000;
  const decoder = new LineDecoder(limit);
  const head = '{"jsonrpc":"2.0","id":7,"result":"';
  const first = decoder.push(Buffer.from(head + 'x'.repeat(limit)));
  assert.equal(first.length, 1);
  assert.equal(first[0]!.kind, 'oversized');
  assert.ok((first[0] as { head: string }).head.startsWith(head));
  assert.equal((first[0] as { head: string }).head.length, PEEK_BYTES);
  // The rest streams past without being kept.
  for (let i = 0; i < 100; i++) assert.deepEqual(decoder.push(Buffer.alloc(1000, 0x78)), []);
  const end = decoder.push(Buffer.from('"}\n{"next":1}\n'));
  assert.equal(end[0]!.kind, 'oversized-end');
  const { tail, bytes } = end[0] as { tail: string; bytes: number };
  assert.equal(bytes, head.length + limit + 100 * 1000 + 2);
  assert.equal(tail.length, PEEK_BYTES);
  assert.ok(tail.endsWith('x"}'));
  assert.deepEqual(lines(end), ['{"next":1}']); // the next line is whole
});

test('a line of exactly the limit passes', () => {
  const decoder = new LineDecoder(100);
  assert.deepEqual(lines(decoder.push(Buffer.from('y'.repeat(100) + '\n'))), ['y'.repeat(100)]);
});
