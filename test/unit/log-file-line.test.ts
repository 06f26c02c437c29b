import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseLogFileLine } from '../../server/supervision/log-file-line.ts';
import { RotatingLog } from '../../server/supervision/rotating-log.ts';

test('a line RotatingLog wrote comes back with its real time and stream', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harbor-logline-'));
  try {
    const file = join(dir, 'host.log');
    const log = new RotatingLog({ file });
    const at = Date.parse('2026-03-04T05:06:07.089Z');
    log.write('{"level":30,"msg":"harbor host listening"}', 'stderr', at);
    log.write('stopped → starting: start', 'supervisor', at + 1);
    await log.close();
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map(parseLogFileLine);
    assert.deepEqual(lines, [
      { at, stream: 'stderr', line: '{"level":30,"msg":"harbor host listening"}' },
      { at: at + 1, stream: 'supervisor', line: 'stopped → starting: start' },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a line in another shape keeps its text', () => {
  assert.deepEqual(parseLogFileLine('plain text line'), { at: 0, stream: 'stderr', line: 'plain text line' });
  assert.deepEqual(parseLogFileLine('2026-03-04T05:06:07.089Z nonsense x'), { at: 0, stream: 'stderr', line: '2026-03-04T05:06:07.089Z nonsense x' });
});
