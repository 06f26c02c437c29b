import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FixedDelaySweep } from '../../server/modern/fixed-delay-sweep.ts';

/** A hand-driven clock and repeating timer: `tick()` runs the sweep as its interval would. */
function manualSweep(delayMs: number, tickMs: number, onError?: (error: unknown) => void) {
  const clock = { now: 0 };
  const state = { run: null as (() => void) | null, starts: 0, stops: 0 };
  const sweep = new FixedDelaySweep({
    delayMs,
    tickMs,
    now: () => clock.now,
    ...(onError ? { onError } : {}),
    every: (run, ms) => {
      assert.equal(ms, tickMs);
      state.run = run;
      state.starts++;
      return () => {
        state.run = null;
        state.stops++;
      };
    },
  });
  const tick = (toMs: number): void => {
    clock.now = toMs;
    state.run?.();
  };
  return { sweep, state, tick };
}

test('a deadline runs at the first sweep at or past its delay, once, and not before', () => {
  const { sweep, tick } = manualSweep(10_000, 1000);
  const ran: string[] = [];
  sweep.add(() => ran.push('a'));
  tick(9000);
  assert.deepEqual(ran, []);
  tick(10_000);
  assert.deepEqual(ran, ['a']);
  tick(20_000);
  assert.deepEqual(ran, ['a'], 'a deadline runs only once');
});

test('deadlines run in the order they were added; later ones wait for their own time', () => {
  const { sweep, tick } = manualSweep(10_000, 1000);
  const ran: string[] = [];
  sweep.add(() => ran.push('a'));
  tick(500);
  sweep.add(() => ran.push('b'));
  tick(3000);
  sweep.add(() => ran.push('c'));
  tick(10_700);
  assert.deepEqual(ran, ['a', 'b']);
  assert.equal(sweep.size, 1);
  tick(13_000);
  assert.deepEqual(ran, ['a', 'b', 'c']);
});

test('a cancelled deadline never runs; the others still do', () => {
  const { sweep, tick } = manualSweep(10_000, 1000);
  const ran: string[] = [];
  const a = sweep.add(() => ran.push('a'));
  sweep.add(() => ran.push('b'));
  sweep.cancel(a);
  tick(11_000);
  assert.deepEqual(ran, ['b']);
});

test('one repeating timer serves many deadlines, and stops once a sweep finds none', () => {
  const { sweep, state, tick } = manualSweep(10_000, 1000);
  for (let i = 0; i < 100; i++) sweep.cancel(sweep.add(() => assert.fail('cancelled')));
  assert.equal(state.starts, 1, 'started once for a hundred deadlines');
  tick(1000);
  assert.equal(state.stops, 1, 'an empty sweep stops the timer');
  assert.equal(state.run, null);
  const ran: string[] = [];
  sweep.add(() => ran.push('later'));
  assert.equal(state.starts, 2, 'the next deadline starts it again');
  tick(11_000);
  assert.deepEqual(ran, ['later']);
  assert.equal(state.stops, 2);
});

test('a deadline whose work throws is reported; the others due still run and the sweep goes on', () => {
  const errors: unknown[] = [];
  const { sweep, state, tick } = manualSweep(10_000, 1000, (error) => errors.push(error));
  const ran: string[] = [];
  sweep.add(() => {
    throw new Error('writeHead after the socket closed');
  });
  sweep.add(() => ran.push('b'));
  assert.doesNotThrow(() => tick(10_000));
  assert.deepEqual(ran, ['b']);
  assert.match(String(errors[0]), /writeHead/);
  sweep.add(() => ran.push('c'));
  tick(20_000);
  assert.deepEqual(ran, ['b', 'c']);
  assert.equal(state.run === null, true, 'stopped once empty');
});
