import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEnvLines } from '../../renderer/env-lines.ts';

test('KEY=VALUE lines: the value is everything after the first "=" (trimmed), references kept for the host', () => {
  const text = '# tokens\nGITHUB_TOKEN=ghp_a=b\n\n  API_URL = https://x.test/?a=1  \r\nSECRET=${HOST_SECRET}\nEMPTY=\n';
  assert.deepEqual(parseEnvLines(text), { GITHUB_TOKEN: 'ghp_a=b', API_URL: 'https://x.test/?a=1', SECRET: '${HOST_SECRET}', EMPTY: '' });
  assert.deepEqual(parseEnvLines(''), {});
});

test('a line without "=", a bad name or a name twice is refused with its line number, never its value', () => {
  assert.throws(() => parseEnvLines('A=1\nGITHUB_TOKEN'), /^Error: line 2: KEY=VALUE expected/);
  assert.throws(() => parseEnvLines('1A=secret-value'), (error: Error) => /line 1: "1A" is not a variable name/.test(error.message) && !error.message.includes('secret-value'));
  assert.throws(() => parseEnvLines('A=1\nA=2'), /line 2: A is set twice/);
});
