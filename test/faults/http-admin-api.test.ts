/**
 * Issue 12, defect 12 (admin API): a malformed percent-encoding is the caller's 400, not a 500; a
 * known path with the wrong method is a 405 naming the allowed ones; bodies over the admin limit or
 * nested too deep are 413 / 400; a share call waiting on a supervisor that hangs up ends in a 503.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminUnavailableError } from '../../server/admin/admin-api.ts';
import { SupervisorRequests } from '../../server/admin/supervisor-requests.ts';
import { startTestHost, type TestHost } from '../helpers/harbor.ts';
import { startHostProcess } from '../helpers/host-process.ts';

describe('admin API refusals', () => {
  let h: TestHost;
  const admin = (method: string, path: string, body?: string) =>
    fetch(`${h.url}${path}`, {
      method,
      headers: { 'x-harbor-admin-secret': h.host.adminSecret, 'Content-Type': 'application/json' },
      ...(body !== undefined ? { body } : {}),
    }).then(async (r) => ({ status: r.status, allow: r.headers.get('allow'), text: await r.text() }));

  before(async () => {
    h = await startTestHost(null);
  });
  after(() => h.close());

  test('malformed percent-encoding in a path parameter → 400 on every route that takes one', async () => {
    for (const [method, path] of [
      ['DELETE', '/admin/teammates/%E0%A4%A'],
      ['DELETE', '/admin/servers/%zz'],
      ['POST', '/admin/servers/%C3%28/restart'],
    ] as const) {
      const res = await admin(method, path);
      assert.equal(res.status, 400, `${method} ${path}: ${res.text}`);
      assert.match(res.text, /malformed percent-encoding/);
    }
    // Well-formed encodings still reach the handler (404: no such teammate).
    const res = await admin('DELETE', '/admin/teammates/b%C3%B6b');
    assert.equal(res.status, 404);
    const error = (JSON.parse(res.text) as { error: { code: number; message: string } }).error;
    assert.match(error.message, /^no active token.* for "böb"$/, 'decoded once, as UTF-8');
    assert.equal(error.code, -32600, 'a refusal is not an internal error');
  });

  test('a known path with the wrong method → 405 with Allow; an unknown path → 404', async () => {
    const cases: Array<[string, string, string]> = [
      ['PUT', '/admin/status', 'GET'],
      ['POST', '/admin/status', 'GET'],
      ['PATCH', '/admin/teammates', 'GET, POST'],
      ['GET', '/admin/teammates/alice', 'DELETE'],
      ['PUT', '/admin/share', 'GET, POST, DELETE'],
      ['DELETE', '/admin/docs', 'PUT'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await admin(method, path);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.allow, allow, `${method} ${path}`);
    }
    const unknown = await admin('GET', '/admin/nothing-here');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.allow, null);
  });

  test('an admin body over 256 KiB → 413; nested too deep or not an object → 400; the API still answers', async () => {
    const big = await admin('POST', '/admin/teammates', JSON.stringify({ name: 'x'.repeat(300 * 1024) }));
    assert.equal(big.status, 413);
    const deep = await admin('POST', '/admin/teammates', '{"name":"bob","x":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}');
    assert.equal(deep.status, 400);
    assert.match(deep.text, /nested deeper/);
    assert.equal((await admin('POST', '/admin/teammates', '[1]')).status, 400);
    assert.equal((await admin('POST', '/admin/teammates', '{"name":')).status, 400);
    assert.equal((await admin('GET', '/admin/status')).status, 200);
  });

  test('restart and logs of something that does not exist → 404: an unknown server, a copy the host does not have', async () => {
    const restart = await admin('POST', '/admin/servers/nosuch/restart');
    assert.equal(restart.status, 404, restart.text);
    assert.match(restart.text, /no server named \\"nosuch\\"/);
    assert.equal((await admin('GET', '/admin/logs?process=nosuch')).status, 404);
    // The host is one process: copy 0 is its log, any other copy names nothing (as on a one-process server).
    assert.equal((await admin('GET', '/admin/logs?process=host&copy=0')).status, 200);
    const hostCopy = await admin('GET', '/admin/logs?process=host&copy=1');
    assert.equal(hostCopy.status, 404, hostCopy.text);
    assert.match(hostCopy.text, /the host runs 1 process \(copy 0\); there is no copy 1/);
  });
});

describe('share calls waiting on the supervisor (host-main)', () => {
  test('every wait ends: reply, refusal, disconnect (pending and later asks), timeout', async () => {
    const requests = new SupervisorRequests<string>({ replyTimeoutMs: 50 });
    const sent: number[] = [];
    const first = requests.ask('start sharing', (id) => sent.push(id));
    const second = requests.ask('stop sharing', (id) => sent.push(id));
    requests.reply(sent[0]!, { value: 'online' });
    requests.reply(sent[1]!, { error: new Error('no cloudflared') });
    assert.equal(await first, 'online');
    await assert.rejects(second, /no cloudflared/);
    await assert.rejects(requests.ask('start sharing', () => {}), (e: Error) => e instanceof AdminUnavailableError && /did not answer in 0.05 s/.test(e.message));
    await assert.rejects(requests.ask('start sharing', () => { throw new Error('channel closed'); }), AdminUnavailableError);
    const pending = [requests.ask('start sharing', () => {}), requests.ask('stop sharing', () => {})];
    assert.equal(requests.pending, 2);
    requests.disconnected('the supervisor has disconnected');
    for (const p of pending) await assert.rejects(p, (e: Error) => e instanceof AdminUnavailableError && /disconnected/.test(e.message));
    await assert.rejects(requests.ask('start sharing', () => assert.fail('nothing is sent once the supervisor is gone')), AdminUnavailableError);
    assert.equal(requests.pending, 0);
  });

  test('the host child answers a share call 503 when its supervisor disconnects while it waits, then exits', async () => {
    const h = await startHostProcess({});
    try {
      const asked = new Promise<unknown>((resolve) => h.child.on('message', (m: { type?: string }) => m?.type === 'share-request' && resolve(m)));
      const call = fetch(`${h.url}/admin/share`, {
        method: 'POST',
        headers: { 'x-harbor-admin-secret': h.secret, 'Content-Type': 'application/json' },
        body: JSON.stringify({ mode: 'quick' }),
      }).then(async (r) => ({ status: r.status, text: await r.text() }));
      await asked; // the host now waits for a reply that will never come
      const exited = new Promise<number | null>((resolve) => h.child.once('exit', (code) => resolve(code)));
      h.child.disconnect();
      const answer = await call;
      assert.equal(answer.status, 503, answer.text);
      assert.match(answer.text, /supervisor has disconnected/);
      assert.equal(await exited, 0, 'the orphaned host stops cleanly');
    } finally {
      await h.stop();
    }
  });
});
