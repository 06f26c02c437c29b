import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { rateLimitedWarning } from '../../server/gateway/rate-limited-warning.ts';

test('the first few warnings of a window are logged, then one line with the count of the rest', () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  let now = 0;
  const warn = rateLimitedWarning(log, { burst: 3, windowMs: 10_000, now: () => now });
  for (let i = 0; i < 1000; i++) warn({ i }, 'bad line');
  assert.equal(lines.length, 3);
  now = 10_000;
  warn({ i: 1000 }, 'bad line');
  assert.equal(lines.length, 5);
  assert.equal(lines[3]!.suppressed, 997);
  assert.equal(lines[4]!.i, 1000);
});
