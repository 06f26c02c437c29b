import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { clock, humanLogLine, teeToTerminal } from '../../main/commands/terminal-lines.ts';

test('a pino JSON line becomes one human line; a plain line passes unchanged', () => {
  const at = Date.parse('2026-03-04T05:06:07Z');
  const json = JSON.stringify({ level: 40, time: at, pid: 1, hostname: 'vm', name: 'harbor-host', msg: 'upstream slow', server: 'github', err: { message: 'timed out', stack: 'x' }, authorization: 'Bearer hbr_x', detail: 'two words' });
  assert.equal(humanLogLine(json, 0), `${clock(at)} warn  upstream slow server=github err="timed out" authorization=[redacted] detail="two words"`);
  assert.equal(humanLogLine('  at Object.<anonymous> (file.js:1:1)', at), '  at Object.<anonymous> (file.js:1:1)');
  assert.equal(humanLogLine('{not json', at), '{not json');
});

test('teeToTerminal keeps the JSON in the logger and writes the same call as a human line', () => {
  const json: string[] = [];
  const file = new Writable({ write: (chunk, _enc, done) => (json.push(String(chunk)), done()) });
  const lines: string[] = [];
  const log = teeToTerminal(pino({ level: 'info' }, file), (line) => lines.push(line));
  log.info({ url: 'http://127.0.0.1:1' }, 'sharing');
  log.warn(new Error('boom'), 'failed');
  log.debug('not shown at info');
  assert.equal(json.length, 2);
  assert.match(json[0]!, /"msg":"sharing"/);
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d info  sharing url=http:\/\/127\.0\.0\.1:1$/);
  assert.match(lines[1]!, /^\d\d:\d\d:\d\d warn  failed err="boom"$/);
});
