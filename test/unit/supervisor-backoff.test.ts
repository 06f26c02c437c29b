import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultRestartDelay, nextAttempt, restartDelay } from '../../server/supervision/backoff.ts';
import { CrashWindow } from '../../server/supervision/crash-window.ts';

describe('restartDelay', () => {
  it('grows 100 ms × 1.5ⁿ by default', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map((n) => restartDelay(n)), [100, 150, 225, 338, 506]);
  });

  it('is capped at 15 s, also for huge attempt numbers', () => {
    assert.equal(restartDelay(20), 15_000);
    assert.equal(restartDelay(10_000), 15_000);
    assert.equal(restartDelay(Number.POSITIVE_INFINITY), 100); // not a finite attempt: treated as the first
  });

  it('treats negative and fractional attempts sanely', () => {
    assert.equal(restartDelay(-3), 100);
    assert.equal(restartDelay(1.9), 150);
  });

  it('honours custom options', () => {
    const options = { initialMs: 10, factor: 2, maxMs: 50, resetAfterMs: 1_000 };
    assert.deepEqual([0, 1, 2, 3, 4].map((n) => restartDelay(n, options)), [10, 20, 40, 50, 50]);
  });

  it('never decreases with the attempt number', () => {
    let previous = 0;
    for (let n = 0; n < 60; n++) {
      const value = restartDelay(n);
      assert.ok(value >= previous);
      previous = value;
    }
  });
});

describe('nextAttempt', () => {
  it('counts up while runs are short and resets after resetAfterMs online', () => {
    assert.equal(nextAttempt(0, 10), 1);
    assert.equal(nextAttempt(4, 29_999), 5);
    assert.equal(nextAttempt(4, defaultRestartDelay.resetAfterMs), 0);
  });
});

describe('CrashWindow', () => {
  it('is looping only with more than maxCrashes inside the window', () => {
    const window = new CrashWindow({ maxCrashes: 3, windowMs: 1_000 });
    for (const at of [0, 100, 200]) window.record(at);
    assert.equal(window.isLooping(200), false);
    assert.equal(window.record(300), 4);
    assert.equal(window.isLooping(300), true);
  });

  it('forgets crashes older than the window', () => {
    const window = new CrashWindow({ maxCrashes: 2, windowMs: 1_000 });
    for (const at of [0, 500, 900]) window.record(at);
    assert.equal(window.isLooping(900), true);
    assert.equal(window.count(1_001), 2);
    assert.equal(window.isLooping(1_600), false);
    assert.equal(window.count(5_000), 0);
  });

  it('clears', () => {
    const window = new CrashWindow({ maxCrashes: 0, windowMs: 1_000 });
    window.record(1);
    assert.equal(window.isLooping(1), true);
    window.clear();
    assert.equal(window.isLooping(1), false);
  });
});
