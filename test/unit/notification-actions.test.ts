import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { choiceAt, notificationPlan, performChoice } from '../../main/core/notification-actions.ts';
import { HttpHostApi } from '../../renderer/host-api.ts';
import { startTestHost, type TestHost } from '../helpers/harbor.ts';
import { adminFetch, authorizeUrl, openAuthorize, pkcePair, registerClient, submitSignIn } from '../helpers/oauth-browser.ts';

const asking = { kind: 'wants-to-connect', approvalId: 'abc', signIn: { teammate: 'alice', client: 'Claude Code', invited: true } } as const;

test('Approve / Deny buttons where the OS shows them (macOS, Windows); on Linux a click opens the Team tab', () => {
  for (const platform of ['darwin', 'win32'] as const) {
    const plan = notificationPlan(asking, platform);
    assert.deepEqual(plan.actions.map((a) => a.text), ['Approve', 'Deny'], platform);
    assert.deepEqual([choiceAt(plan, 0), choiceAt(plan, 1), choiceAt(plan, 2)], ['approve', 'deny', null]);
    assert.equal(plan.click, 'open-team');
  }
  assert.deepEqual(notificationPlan(asking, 'linux'), { actions: [], choices: [], click: 'open-team' });
  for (const stranger of [{ ...asking, signIn: { ...asking.signIn, invited: false } }, { kind: 'wants-to-connect', approvalId: 'abc' } as const]) {
    const plan = notificationPlan(stranger, 'darwin');
    assert.deepEqual(plan.actions.map((a) => a.text), ['Deny'], 'not invited (or not known to be): no one-press Approve');
    assert.deepEqual([choiceAt(plan, 0), choiceAt(plan, 1)], ['deny', null]);
    assert.equal(plan.click, 'open-team', 'approving is the Team tab\'s');
  }
  assert.deepEqual(notificationPlan({ kind: 'health-red' }, 'darwin'), { actions: [], choices: [], click: null }, 'other notifications get no buttons');
  assert.deepEqual(notificationPlan({ kind: 'wants-to-connect' }, 'darwin').actions, [], 'no request id, nothing to decide');
});

let h: TestHost;
let api: HttpHostApi;
before(async () => {
  h = await startTestHost({ docs: { folder: 'docs' }, auth: 'both' });
  api = new HttpHostApi({ baseUrl: h.url, secret: h.host.adminSecret });
});
after(() => h.close());

/** A sign-in made over HTTP as a teammate's browser would, waiting for the owner; its request id. */
async function waitingSignIn(name: string): Promise<string> {
  const { client_id } = await registerClient(h.url, undefined, 'Claude Code');
  const page = await openAuthorize(authorizeUrl(h.url, { clientId: client_id, challenge: pkcePair().challenge }));
  const submitted = await submitSignIn(h.url, page, { name });
  await submitted.body?.cancel();
  assert.equal(submitted.status, 303);
  return page.requestId;
}

async function waitingIds(): Promise<string[]> {
  const res = await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/approvals');
  return ((await res.json()) as { approvals: Array<{ id: string }> }).approvals.map((a) => a.id);
}

test('the buttons answer the request through the admin API; a second answer fails and opens the Team tab instead', async () => {
  let opened = 0;
  const deps = { api: () => api, openTeamTab: () => void opened++ };
  const alice = await waitingSignIn('alice');
  const bob = await waitingSignIn('bob');
  assert.deepEqual(await performChoice('approve', alice, deps), { done: 'approved', teammate: 'alice' });
  assert.deepEqual(await performChoice('deny', bob, deps), { done: 'denied', teammate: 'bob' });
  assert.deepEqual(await waitingIds(), []);
  assert.equal(opened, 0);

  const again = await performChoice('approve', alice, deps);
  assert.equal(again.done, 'failed');
  assert.match((again as { message: string }).message, /404|no sign-in|not waiting|answered/i);
  assert.equal(opened, 1, 'the owner is shown where the request stands');
  assert.deepEqual(await performChoice('open-team', bob, deps), { done: 'opened-team' });
  assert.equal(opened, 2);
});

test('a host not reachable yet (the shell still connecting) fails the choice and opens the Team tab', async () => {
  let opened = 0;
  const outcome = await performChoice('approve', 'x', { api: () => { throw new Error('Harbor is starting; try again in a moment'); }, openTeamTab: () => void opened++ });
  assert.deepEqual(outcome, { done: 'failed', message: 'Harbor is starting; try again in a moment' });
  assert.equal(opened, 1);
});
