/**
 * "alice wants to connect from <client>" (issue 18.2): the notification rule for sign-ins waiting for
 * the owner (main/core/notification-rules.ts), a pure function of two observations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { notificationPlan } from '../../main/core/notification-actions.ts';
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
      body: 'alice wants to connect from Claude Code. Click to approve or deny in the Team tab.',
      approvalId: 'req-a',
      signIn: { teammate: 'alice', client: 'Claude Code', invited: true },
    },
  ]);
  assert.deepEqual(notificationsBetween(waiting, waiting), [], 'still waiting: no second notification');
  const both: Observation = { ...base, approvals: [alice, mallory] };
  const next = notificationsBetween(waiting, both);
  assert.deepEqual(next.map((n) => [n.approvalId, n.body]), [['req-m', 'mallory wants to connect from Cursor (not invited). Click to approve or deny in the Team tab.']]);
  assert.deepEqual(notificationsBetween(both, base), [], 'answered or expired: nothing to say');
});

test('the body says what holds on every platform: a click opens the Team tab, with or without buttons', () => {
  for (const approval of [alice, mallory]) {
    const [spec] = notificationsBetween(base, { ...base, approvals: [approval] });
    assert.match(spec!.body, /\. Click to approve or deny in the Team tab\.$/);
    for (const platform of ['darwin', 'win32', 'linux', 'freebsd'] as const) {
      const plan = notificationPlan(spec!, platform);
      assert.equal(plan.click, 'open-team', `${platform}: the click the body promises`);
      assert.ok(plan.choices.every((c) => c === 'approve' || c === 'deny'), `${platform}: buttons only ever shortcut the Team tab's answers`);
    }
  }
});

test('a request already waiting at launch is announced (it expires soon and needs the owner)', () => {
  assert.deepEqual(notificationsBetween(null, { ...base, approvals: [alice] }).map((n) => n.kind), ['wants-to-connect']);
});

test('no list (sign-in off, or the read failed) announces nothing', () => {
  assert.deepEqual(notificationsBetween(base, { ...base, approvals: null }), []);
  const { approvals: _dropped, ...older } = base;
  assert.deepEqual(notificationsBetween(null, older), []);
});
