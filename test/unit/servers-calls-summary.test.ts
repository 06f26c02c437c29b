import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostedServerStatus } from '../../server/gateway/hosted-server.ts';
import { callsSummary } from '../../renderer/sections/server-calls.ts';

const base: HostedServerStatus = { name: 'api', mode: 'shared', requestTimeoutSeconds: 300, sessions: 2, upstreams: [] };
const queue = { queued: 3, running: 5, maxConcurrent: 5, maxQueued: 500, waitingKeys: 1, waitP95Ms: 1234 };

test('the Servers tab calls column: running of the cap, waiting, p95 wait, copies ready', () => {
  assert.equal(callsSummary(base), '–');
  assert.equal(callsSummary({ ...base, pool: { queue, copies: [{ restingForMs: null, rateLimited: 0, calls: 5 }] } }), '5 / 5 running · 3 waiting · p95 wait 1.2 s');
  const copies = [
    { restingForMs: 800, rateLimited: 2, calls: 0 },
    { restingForMs: null, rateLimited: 0, calls: 1 },
    { restingForMs: null, rateLimited: 0, calls: 1 },
  ];
  assert.equal(callsSummary({ ...base, pool: { queue: { ...queue, maxConcurrent: null, queued: 0, running: 2, waitP95Ms: null }, copies } }), '2 running · 0 waiting · 2/3 copies ready');
});
