import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MAX_JSON_DEPTH, jsonDepth, parseBoundedJson, valueDepth } from '../../server/gateway/bounded-json.ts';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

test('jsonDepth counts brackets outside strings only', () => {
  assert.equal(jsonDepth('1'), 0);
  assert.equal(jsonDepth('{"a":[1,{"b":2}]}'), 3);
  assert.equal(jsonDepth('{"a":"[[[[{{{\\"]]]"}'), 1);
  assert.equal(jsonDepth(nested(100_000), 512), 513); // stops just past the limit
});

test('parseBoundedJson refuses input deeper than the bound, parses the rest', () => {
  const deep = parseBoundedJson(nested(100_000));
  assert.equal(deep.ok, false);
  assert.equal(!deep.ok && deep.tooDeep, true);
  assert.match(!deep.ok ? deep.reason : '', new RegExp(`deeper than ${DEFAULT_MAX_JSON_DEPTH}`));
  const edge = parseBoundedJson(nested(DEFAULT_MAX_JSON_DEPTH));
  assert.equal(edge.ok, true);
  const bad = parseBoundedJson('{"a":');
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.tooDeep, false);
});

test('valueDepth walks an in-memory value without recursion and agrees with jsonDepth', () => {
  let value: unknown = [];
  for (let i = 1; i < 200_000; i++) value = { v: value };
  assert.equal(valueDepth(value, 512), 513);
  const sample = { a: [1, { b: [2, [3]] }], c: 'x' };
  assert.equal(valueDepth(sample), jsonDepth(JSON.stringify(sample)));
  assert.equal(valueDepth(null), 0);
});

test('parseBoundedJson: a text too short to be nested past the bound is parsed without the scan, and still refused when broken', () => {
  assert.equal(parseBoundedJson(nested(3), 3).ok, true);
  const tooDeep = parseBoundedJson(nested(4), 3);
  assert.equal(!tooDeep.ok && tooDeep.tooDeep, true);
  // 4 unclosed brackets: shorter than JSON 4 deep can be, so not judged deep; JSON.parse refuses it.
  const unclosed = parseBoundedJson('[[[[', 3);
  assert.equal(unclosed.ok, false);
  assert.equal(!unclosed.ok && unclosed.tooDeep, false);
});
