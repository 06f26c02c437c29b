import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeHealth, type HealthInput, type ProcessHealth } from '../../server/metrics/health.ts';

const NOW = 1_700_000_000_000;
const MINUTE = 60_000;
const MB = 1024 * 1024;

const online = (name: string, extra: Partial<ProcessHealth> = {}): ProcessHealth => ({ name, state: 'online', restarts: 0, ...extra });

function input(overrides: Partial<HealthInput> = {}): HealthInput {
  return {
    host: online('host'),
    processes: [online('docs'), online('github')],
    alerts: [],
    tunnel: { state: 'off', shared: false },
    now: NOW,
    ...overrides,
  };
}

describe('computeHealth', () => {
  it('is green when everything is online and nothing fires', () => {
    assert.deepEqual(computeHealth(input()), { state: 'green', reasons: [] });
    assert.deepEqual(computeHealth(input({ tunnel: { state: 'online', shared: true } })), { state: 'green', reasons: [] });
  });

  it('is red when the host is down', () => {
    assert.deepEqual(computeHealth(input({ host: null })), { state: 'red', reasons: ['Harbor host is not running'] });
    assert.equal(computeHealth(input({ host: online('host', { state: 'stopped' }) })).state, 'red');
    const errored = computeHealth(input({ host: online('host', { state: 'errored', restarts: 11 }) }));
    assert.equal(errored.state, 'red');
    assert.match(errored.reasons[0]!, /^Harbor host: keeps crashing/);
  });

  it('is amber while the host restarts', () => {
    for (const state of ['crashed', 'waiting'] as const) {
      const health = computeHealth(input({ host: online('host', { state, restarts: 1 }) }));
      assert.deepEqual(health, { state: 'amber', reasons: ['Harbor host: restarting'] });
    }
  });

  it('is red when an upstream is errored, saying when it retries', () => {
    const health = computeHealth(
      input({
        processes: [
          online('docs', {
            state: 'errored',
            restarts: 12,
            nextRetryAt: NOW + 4 * MINUTE,
            restartHistory: [{ at: NOW - MINUTE, cause: 'crash', exitCode: 1 }],
          }),
          online('github'),
        ],
      }),
    );
    assert.deepEqual(health, {
      state: 'red',
      reasons: ['docs: keeps crashing, stopped restarting, retrying in 4 min — restarted once in 10 min (crash, exit code 1)'],
    });
  });

  it('explains recent memory restarts of an online process (amber)', () => {
    const restartHistory = [
      { at: NOW - 8 * MINUTE, cause: 'memory', rssBytes: 530 * MB, limitBytes: 512 * MB },
      { at: NOW - 5 * MINUTE, cause: 'memory', rssBytes: 520 * MB, limitBytes: 512 * MB },
      { at: NOW - 1 * MINUTE, cause: 'memory', rssBytes: 486.4 * MB, limitBytes: 512 * MB },
      { at: NOW - 50 * MINUTE, cause: 'crash' }, // outside the window: not counted
    ];
    const health = computeHealth(input({ processes: [online('docs', { restarts: 4, restartHistory }), online('github')] }));
    assert.deepEqual(health, { state: 'amber', reasons: ['docs: restarted 3× in 10 min (memory 95 % of 512 MB)'] });
    // Once the restarts are older than the window, the process is just online again.
    assert.equal(computeHealth(input({ now: NOW + 20 * MINUTE, processes: [online('docs', { restarts: 4, restartHistory })] })).state, 'green');
  });

  it('is amber while an upstream starts, and ignores upstreams the user stopped', () => {
    assert.deepEqual(computeHealth(input({ processes: [online('docs', { state: 'starting' })] })), {
      state: 'amber',
      reasons: ['docs: starting'],
    });
    assert.deepEqual(computeHealth(input({ processes: [online('docs', { state: 'stopped', restarts: 2 })] })), { state: 'green', reasons: [] });
  });

  it('judges the tunnel only while sharing', () => {
    assert.deepEqual(computeHealth(input({ tunnel: { state: 'down', shared: true } })), {
      state: 'red',
      reasons: ["tunnel down: teammates can't reach Harbor"],
    });
    assert.deepEqual(computeHealth(input({ tunnel: { state: 'off', shared: true } })), {
      state: 'red',
      reasons: ["sharing is on but the tunnel isn't running"],
    });
    assert.deepEqual(computeHealth(input({ tunnel: { state: 'degraded', shared: true, detail: 'quick tunnel buffers SSE' } })), {
      state: 'amber',
      reasons: ['tunnel degraded (quick tunnel buffers SSE)'],
    });
    assert.equal(computeHealth(input({ tunnel: { state: 'starting', shared: true } })).state, 'amber');
    assert.equal(computeHealth(input({ tunnel: { state: 'down', shared: false } })).state, 'green');
  });

  it('turns amber for firing warnings but not for notes', () => {
    const alerts = [
      { message: 'docs/search_docs: p95 latency 2.6 s (limit 2.0 s)', severity: 'warning' as const },
      { message: 'tools cache: hit ratio 95 % (above 90 %), it could be made smaller', severity: 'note' as const },
    ];
    assert.deepEqual(computeHealth(input({ alerts })), { state: 'amber', reasons: [alerts[0]!.message] });
    assert.deepEqual(computeHealth(input({ alerts: [alerts[1]!] })), { state: 'green', reasons: [] });
  });

  it('lists red reasons before amber ones when several things are wrong', () => {
    const health = computeHealth(
      input({
        processes: [online('docs', { state: 'waiting', restarts: 1 }), online('github', { state: 'errored', restarts: 11 })],
        alerts: [{ message: 'docs: memory at 91 % of its limit for 10 min', severity: 'warning' }],
        tunnel: { state: 'down', shared: true },
      }),
    );
    assert.equal(health.state, 'red');
    assert.deepEqual(health.reasons, [
      'github: keeps crashing, stopped restarting',
      "tunnel down: teammates can't reach Harbor",
      'docs: restarting',
      'docs: memory at 91 % of its limit for 10 min',
    ]);
  });
});
