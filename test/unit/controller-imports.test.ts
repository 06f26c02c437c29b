/**
 * `harbor serve`'s controller supervises the host child and relays to it; it stays a small process by
 * loading none of the host's libraries (issue 17: each of these costs megabytes of RSS in a process that
 * never uses them). A real Node process loads the serve command and lists every module it loaded.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Loads `entry` in a fresh Node: the URL of every module it loaded (registerHooks sees each), and Node's
 * own internal modules (process.moduleLoadList), where undici shows up.
 */
function modulesLoadedBy(entry: string): { loaded: string[]; internal: string[] } {
  const script = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
    await import(${JSON.stringify(new URL(entry, `file://${ROOT}`).href)});
    process.stdout.write(JSON.stringify({ loaded, internal: process.moduleLoadList }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out) as { loaded: string[]; internal: string[] };
}

const undici = (internal: string[]) => internal.filter((name) => name.includes('undici'));

const HOST_ONLY = ['zod', 'better-sqlite3', 'pg', 'prom-client', '@modelcontextprotocol/sdk', 'express', 'ajv', 'lru-cache', 'p-queue'];

test("harbor serve's controller loads none of the host's libraries", () => {
  const { loaded, internal } = modulesLoadedBy('main/commands/serve.ts');
  assert.ok(loaded.some((url) => url.endsWith('/main/core/host-controller.ts')), 'the controller itself was loaded');
  assert.ok(loaded.some((url) => url.includes('/node_modules/pino/')), 'its logger was loaded');
  const packages = new Set(loaded.map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]).filter((name) => name !== undefined));
  assert.deepEqual(HOST_ONLY.filter((name) => packages.has(name)), []);
  // The host's own code stays out too: the controller reaches it only over IPC and HTTP.
  const hostCode = loaded.filter((url) => /\/server\/(host\.ts|http\/|store\/|metrics\/|config\/|gateway\/(hosted-server|upstream))/.test(url));
  assert.deepEqual(hostCode, []);
  // fetch's HTTP stack, which an ESM import of node:http loads (server/node-http.ts says why).
  assert.deepEqual(undici(internal), []);
});

test('the host loads no undici until something calls fetch', () => {
  const { loaded, internal } = modulesLoadedBy('server/host.ts');
  assert.ok(loaded.some((url) => url.endsWith('/server/http/host-server.ts')), 'the host server was loaded');
  assert.deepEqual(undici(internal), []);
});
