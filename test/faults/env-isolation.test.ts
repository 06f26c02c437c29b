import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HostController } from '../../main/core/host-controller.ts';
import { silentLogger } from '../../server/logger.ts';
import { MINIMAL_ENV_NAMES, minimalEnv, withoutHarborSecrets } from '../../server/supervision/child-env.ts';
import { descendantsIn, readProcessTable } from '../../server/supervision/process-tree.ts';
import { connectClient, fixtureServer, GENEROUS_LIMITS, ROOT, tempHome, textOf, waitFor } from '../helpers/harbor.ts';

// Defect 4 of issue 12: HARBOR_ADMIN_SECRET was in every hosted server's environment, and
// server-everything's get-env handed it to any teammate. A real supervised host (what `harbor serve`
// and the app run), two hosted servers (one started the way users write it, `npx -y`), and a named
// tunnel through the cloudflared stand-in; then the environment of every process in the tree.

const STANDIN = join(ROOT, 'test/fixtures/cloudflared-standin/cloudflared');
// Stands for a secret of the user's own shell (an API key): the host child may see it, no hosted server.
const CANARY = 'CANARY_USER_SECRET';
const CANARY_VALUE = 'canary-7b1f0c3e-not-for-hosted-servers';

function environOf(pid: number): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

function rawEnviron(pid: number): string {
  return readFileSync(`/proc/${pid}/environ`, 'utf8');
}

test('hosted servers, their children and cloudflared see none of Harbor\'s secrets; get-env through Harbor shows none', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  process.env[CANARY] = CANARY_VALUE;
  const { home, cleanup } = tempHome();
  writeFileSync(
    join(home, 'config.json'),
    JSON.stringify({
      mcpServers: {
        // As users configure it: npx resolves the package (installed here, so no download) and starts it.
        everything: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything', 'stdio'], cwd: ROOT },
        fx: fixtureServer({ FX_SETTING: 'named-in-config' }),
      },
      limits: GENEROUS_LIMITS,
    }),
  );
  const controller = new HostController({ home, port: 0, logger: silentLogger, tunnel: { binaryPath: STANDIN, readyTimeoutMs: 15_000 } });
  try {
    const ready = await controller.start();
    const secret = controller.adminSecret;
    const admin = (path: string, body: object) =>
      fetch(`${ready.url}${path}`, { method: 'POST', headers: { 'x-harbor-admin-secret': secret, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const tunnelToken = Buffer.from(JSON.stringify({ a: 'account', t: '6ff42ae2-765d-4adf-8112-31c55c1551ef', s: 'dHVubmVsLXNlY3JldA' })).toString('base64');
    const shared = (await (await admin('/admin/share', { mode: 'named', token: tunnelToken, hostname: 'mcp.example.com' })).json()) as { state: string };
    assert.equal(shared.state, 'online');
    const issued = (await (await admin('/admin/teammates', { name: 'mallory' })).json()) as { token: string };

    // The teammate's view: server-everything's environment dump, through Harbor.
    const client = await connectClient(ready.url, 'everything', issued.token);
    const dump = textOf(await client.callTool({ name: 'get-env', arguments: {} }));
    await client.close();
    const dumped = JSON.parse(dump) as Record<string, string>;
    assert.ok(dumped.PATH, 'the server got a PATH (npx found node)');
    for (const needle of [secret, tunnelToken, issued.token, 'HARBOR_ADMIN_SECRET', 'TUNNEL_TOKEN', CANARY_VALUE]) {
      assert.ok(!dump.includes(needle), `get-env shows ${needle === secret ? 'the admin secret' : needle}`);
    }
    const fx = await connectClient(ready.url, 'fx', issued.token);
    assert.equal(textOf(await fx.callTool({ name: 'echo', arguments: { message: 'up' } })), 'up');
    await fx.close();

    const hostPid = controller.supervisor!.pid!;
    const tunnelPid = controller.share.tunnel!.pid!;
    const table = await readProcessTable();
    const below = descendantsIn(table, hostPid);
    const upstreamRoots = table.filter((p) => p.ppid === hostPid).map((p) => p.pid);
    // npx → its server (and whatever npm puts between): at least two under `everything`, one under `fx`.
    assert.ok(upstreamRoots.length >= 2 && below.length >= 3, `expected both upstreams and npx's child, saw ${below.length} processes`);

    for (const pid of [...below, tunnelPid]) {
      const raw = rawEnviron(pid);
      for (const needle of [secret, issued.token, 'HARBOR_ADMIN_SECRET']) {
        assert.ok(!raw.includes(needle), `process ${pid} has ${needle === secret ? 'the admin secret' : needle} in its environment`);
      }
    }
    for (const pid of below) {
      const raw = rawEnviron(pid);
      for (const needle of [tunnelToken, 'TUNNEL_TOKEN', CANARY_VALUE]) assert.ok(!raw.includes(needle), `hosted process ${pid} has ${needle}`);
    }
    // The upstreams themselves: the minimal base and what their entry names, nothing else.
    const allowed = new Set([...MINIMAL_ENV_NAMES, 'FX_SETTING']);
    for (const pid of upstreamRoots) {
      const extra = [...environOf(pid).keys()].filter((name) => !allowed.has(name) && !name.startsWith('LC_'));
      assert.deepEqual(extra, [], `upstream ${pid} got variables beyond its base`);
    }
    const fxPid = upstreamRoots.find((pid) => environOf(pid).has('FX_SETTING'));
    assert.equal(fxPid !== undefined && environOf(fxPid).get('FX_SETTING'), 'named-in-config');

    // cloudflared gets its token (it needs it) and the user's environment, not the admin secret.
    const tunnelEnv = environOf(tunnelPid);
    assert.equal(tunnelEnv.get('TUNNEL_TOKEN'), tunnelToken);
    assert.equal(tunnelEnv.get(CANARY), CANARY_VALUE);
    // The host child is handed the secret in its initial environment (its only channel from main) and
    // deletes it from process.env before it starts anything: no tunnel token reaches it.
    const hostRaw = rawEnviron(hostPid);
    assert.ok(!hostRaw.includes(tunnelToken) && !hostRaw.includes(issued.token));
  } finally {
    await controller.stop().catch(() => {});
    delete process.env[CANARY];
    await waitFor(async () => descendantsIn(await readProcessTable(), process.pid).length === 0 || null, 15_000, 'every started process to end').catch(() => {});
    cleanup();
  }
});

test('the minimal base: the listed names and LC_*, no exported shell functions; Harbor secrets never inherited', () => {
  const from = { PATH: '/bin', HOME: '/home/u', LC_TIME: 'C', SHELL: '() { :; }; echo pwned', NODE_OPTIONS: '--inspect', HARBOR_ADMIN_SECRET: 's', TUNNEL_TOKEN: 't', OTHER: 'x' };
  assert.deepEqual(minimalEnv(from), { PATH: '/bin', HOME: '/home/u', LC_TIME: 'C' });
  assert.deepEqual(withoutHarborSecrets(from), { PATH: '/bin', HOME: '/home/u', LC_TIME: 'C', SHELL: from.SHELL, NODE_OPTIONS: '--inspect', OTHER: 'x' });
});
