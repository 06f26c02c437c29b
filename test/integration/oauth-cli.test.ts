import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GENEROUS_LIMITS, startTestHost } from '../helpers/harbor.ts';
import { harborResult } from '../helpers/harbor-cli.ts';
import { authorizeUrl, openAuthorize, pkcePair, pollWait, registerClient, submitSignIn } from '../helpers/oauth-browser.ts';

/** The CLI as a person runs it, against the host running under `home`. */
function harbor(home: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return harborResult({ ...process.env, HARBOR_HOME: home }, args);
}

test('harbor invite, approvals, approve and deny against the running host', async () => {
  const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both' });
  try {
    const invited = await harbor(h.home, 'invite', 'alice', '--json');
    assert.equal(invited.code, 0, invited.stderr);
    const answer = JSON.parse(invited.stdout) as { invite: { name: string; code?: string }; urls: string[] };
    assert.equal(answer.invite.name, 'alice');
    assert.equal(answer.invite.code, undefined);
    assert.deepEqual(answer.urls, [`${h.url}/docs/mcp`]);
    const human = await harbor(h.home, 'invite', 'bob', '--code');
    assert.match(human.stdout, /One-time code \(single use, shown once\): [2-9A-Z]{5}-[2-9A-Z]{5}/);

    // Two teammates ask; the owner approves one and denies the other from the CLI.
    const pages = [];
    for (const name of ['alice', 'stranger']) {
      const client = await registerClient(h.url, undefined, `${name}'s client`);
      const page = await openAuthorize(authorizeUrl(h.url, { clientId: client.client_id, challenge: pkcePair().challenge }));
      assert.equal((await submitSignIn(h.url, page, { name })).status, 303);
      pages.push(page);
    }
    const listed = await harbor(h.home, 'approvals');
    assert.match(listed.stdout, /alice\s+alice's client\s+yes/);
    assert.match(listed.stdout, /stranger\s+stranger's client\s+NO/);
    const json = JSON.parse((await harbor(h.home, 'approvals', '--json')).stdout) as Array<{ id: string; teammate: string }>;
    assert.deepEqual(json.map((a) => a.teammate).sort(), ['alice', 'stranger']);

    const approved = await harbor(h.home, 'approve', pages[0]!.requestId);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /Approved: alice can connect from alice's client/);
    const denied = await harbor(h.home, 'deny', pages[1]!.requestId);
    assert.match(denied.stdout, /Denied: stranger/);
    assert.equal(new URL((await pollWait(h.url, pages[0]!)).headers.get('location')!).searchParams.has('code'), true);
    assert.equal(new URL((await pollWait(h.url, pages[1]!)).headers.get('location')!).searchParams.get('error'), 'access_denied');

    const unknown = await harbor(h.home, 'approve', 'ffffffffffff');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no sign-in request "ffffffffffff" is waiting/);
  } finally {
    await h.close();
  }
});

test('with sign-in off, the commands say how to turn it on', async () => {
  const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS });
  try {
    const result = await harbor(h.home, 'invite', 'alice');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /sign-in is off\. Set "auth": "both" in config\.json/);
    assert.match((await harbor(h.home, 'invite', '--help')).stdout, /Usage: harbor invite <name>/);
  } finally {
    await h.close();
  }
});
