/**
 * "alice wants to connect from <client>" (issue 18.2): the notification rule for sign-ins waiting for
 * the owner (main/core/notification-rules.ts), a pure function of two observations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { notificationsBetween, type Observation } from '../../main/core/notification-rules.ts';

const base: Observation = { health: { state: 'green', reasons: [] }, teammates: [], publicUrl: null, approvals: [] };
const alice = { id: 'req-a', teammate: 'alice', client: 'Claude Code', invited: true };
const mallory = { id: 'req-m', teammate: 'mallory', client: 'Cursor', invited: false };

test('a new waiting sign-in is announced once, naming the teammate and the client', () => {
  const waiting: Observation = { ...base, approvals: [alice] };
  assert.deepEqual(notificationsBetween(base, waiting), [
    {
      kind: 'wants-to-connect',
      title: 'alice wants to connect',
      body: 'alice wants to connect from Claude Code. Open the Team tab to approve or deny.',
      approvalId: 'req-a',
      signIn: { teammate: 'alice', client: 'Claude Code', invited: true },
    },
  ]);
  assert.deepEqual(notificationsBetween(waiting, waiting), [], 'still waiting: no second notification');
  const both: Observation = { ...base, approvals: [alice, mallory] };
  const next = notificationsBetween(waiting, both);
  assert.deepEqual(next.map((n) => [n.approvalId, n.body]), [['req-m', 'mallory wants to connect from Cursor (not invited). Open the Team tab to approve or deny.']]);
  assert.deepEqual(notificationsBetween(both, base), [], 'answered or expired: nothing to say');
});

test('a request already waiting at launch is announced (it expires soon and needs the owner)', () => {
  assert.deepEqual(notificationsBetween(null, { ...base, approvals: [alice] }).map((n) => n.kind), ['wants-to-connect']);
});

test('no list (sign-in off, or the read failed) announces nothing', () => {
  assert.deepEqual(notificationsBetween(base, { ...base, approvals: null }), []);
  const { approvals: _dropped, ...older } = base;
  assert.deepEqual(notificationsBetween(null, older), []);
});
