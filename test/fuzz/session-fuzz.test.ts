/**
 * Authenticated fuzz on live sessions, every transport: Streamable HTTP (`/mcp/<name>` with
 * Mcp-Session-Id), the URL-token form (`/t/<token>/mcp/<name>`), and legacy SSE (`GET /sse/<name>`
 * + `POST /messages/<name>?sessionId=`). Bodies: the common methods with wrong types in their params
 * fields, nesting far past the depth bound, broken envelopes, batch shapes (mcp-fuzz-bodies.ts).
 *
 * Asserted: no 5xx, no crash (the host child's pid and its upstream's pid unchanged), no request over
 * 10 s (on legacy, the answer on the stream included), and the host's memory back within 10 %.
 *
 * The memory measure: the host process's live JS heap after a full GC, read through the inspector
 * protocol (HeapProfiler.collectGarbage, then Runtime.getHeapUsage), since the host runs as its own
 * process here. RSS is reported too but not asserted: V8 and malloc keep pages they grew into, so RSS
 * wanders by ±15 % between identical runs, while the heap after a GC counts only what is still held.
 * The baseline is taken after a warm-up round of the same fuzz with another seed (compiled code,
 * caches, the upstream's first answers): a leak shows as growth in the measured round on top of it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../fixtures/seeded-random.ts';
import { everythingConfig } from '../helpers/harbor.ts';
import { startHostProcess, type HostProcess } from '../helpers/host-process.ts';
import { openLegacy, openStreamable, type RawSession } from '../helpers/raw-sessions.ts';
import { fuzzBody } from './mcp-fuzz-bodies.ts';

const PER_TRANSPORT = 300;
const HANG_MS = 10_000;
const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

async function upstreamPid(h: HostProcess): Promise<number | undefined> {
  const status = (await (await fetch(`${h.url}/admin/status`, { headers: { 'x-harbor-admin-secret': h.secret } })).json()) as {
    servers: Array<{ name: string; upstreams: Array<{ pid?: number }> }>;
  };
  return status.servers.find((s) => s.name === 'everything')?.upstreams[0]?.pid;
}

/** One round: `count` bodies per transport, each on a live session of that transport. */
async function round(h: HostProcess, seed: number, count: number): Promise<Map<string, number>> {
  const statuses = new Map<string, number>();
  const sessions: RawSession[] = [
    await openStreamable(h.url, 'everything', h.token),
    await openStreamable(h.url, 'everything', h.token, true),
    await openLegacy(h.url, 'everything', h.token),
  ];
  try {
    for (const session of sessions) {
      const random = seededRandom(seed + sessions.indexOf(session));
      for (let i = 0; i < count; i++) {
        const body = fuzzBody(random, i);
        const where = `${session.kind} #${i} (seed ${seed}) ${body.kind}: ${body.text.slice(0, 160)}`;
        const started = Date.now();
        const res = await session.post(body.text, AbortSignal.timeout(HANG_MS)).catch((error: Error) => assert.fail(`${where}: ${error.message}`));
        assert.ok(res.status < 500, `${where} → ${res.status} ${res.text.slice(0, 200)}`);
        if (session.answer && res.status === 202 && body.answerId !== undefined) {
          await session.answer(body.answerId, HANG_MS - (Date.now() - started)).catch((error: Error) => assert.fail(`${where}: ${error.message}`));
        }
        const key = `${session.kind} ${res.status}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    }
  } finally {
    for (const s of sessions) await s.close();
  }
  return statuses;
}

test(`fuzz: ${PER_TRANSPORT} hostile bodies per transport on live sessions: no 5xx, no crash, no hang, memory flat`, async (t) => {
  const h = await startHostProcess(everythingConfig('shared'), { inspect: true });
  try {
    const upstream = await upstreamPid(h);
    assert.ok(upstream, 'server-everything is up');
    await round(h, 1, PER_TRANSPORT); // warm-up: see the memory note at the top
    const baseline = { heap: await h.heapAfterGc(), rss: await h.rssBytes() };
    const statuses = await round(h, 20261201, PER_TRANSPORT);
    const rssAtEnd = await h.rssBytes();
    const after = { heap: await h.heapAfterGc(), rss: await h.rssBytes() };

    assert.equal(h.child.exitCode, null, `the host exited: ${h.stderr()}`);
    assert.equal(h.child.pid, h.pid);
    assert.equal(await upstreamPid(h), upstream, 'the upstream was not restarted');
    assert.equal((await fetch(`${h.url}/health`)).status, 200);
    t.diagnostic(`statuses: ${JSON.stringify([...statuses].sort())}`);
    t.diagnostic(`host heap after GC: ${mb(baseline.heap)} MB after the warm-up round, ${mb(after.heap)} MB after the measured round`);
    t.diagnostic(`host RSS: ${mb(baseline.rss)} MB after the warm-up round, ${mb(rssAtEnd)} MB at the end of the measured round, ${mb(after.rss)} MB after a GC`);
    // Every transport saw refusals and successes (the fuzz reached past the parser).
    for (const kind of ['streamable', 'url-token', 'legacy']) {
      assert.ok((statuses.get(`${kind} 400`) ?? 0) > 0, `${kind}: some 400s`);
      assert.ok((statuses.get(`${kind} ${kind === 'legacy' ? 202 : 200}`) ?? 0) > 0, `${kind}: some accepted`);
    }
    assert.ok(after.heap <= baseline.heap * 1.1, `host heap after GC grew from ${baseline.heap} to ${after.heap}`);
  } finally {
    await h.stop();
  }
});
