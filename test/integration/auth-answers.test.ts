import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { GENEROUS_LIMITS, ROOT, startTestHost, type TestHost } from '../helpers/harbor.ts';

// Issue 14 item 5: with auth "tokens" (the default) nothing sends a client into OAuth, and what a
// teammate with a bad token reads first says the token is invalid or revoked.
const run = promisify(execFile);
const INSPECTOR = join(ROOT, 'node_modules/.bin/inspector');
const MCP_REMOTE = join(ROOT, 'node_modules/mcp-remote/dist/proxy.js');
const INVALID = /the Harbor token is invalid or revoked/i;

const DISCOVERY_PATHS = [
  '/.well-known/oauth-protected-resource',
  '/.well-known/oauth-protected-resource/docs/mcp',
  '/.well-known/oauth-protected-resource/mcp/docs',
  '/.well-known/oauth-authorization-server',
  '/.well-known/oauth-authorization-server/docs/mcp',
  '/.well-known/openid-configuration',
  '/.well-known/openid-configuration/docs/mcp',
  '/docs/mcp/.well-known/openid-configuration',
];

function post(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers }, body: '{}' });
}

async function errorOf(res: Response): Promise<{ code: number; message: string }> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return ((await res.json()) as { error: { code: number; message: string } }).error;
}

/** The first stderr line of mcp-remote that reports an error, then the child is stopped. */
function firstMcpRemoteError(url: string, configDir: string): Promise<string> {
  const child = spawn(process.execPath, [MCP_REMOTE, url, '--header', 'Authorization:${AUTH_HEADER}'], {
    env: { ...process.env, AUTH_HEADER: 'Bearer hbr_not-a-token', MCP_REMOTE_CONFIG_DIR: configDir },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(new Error(`no error line within 60 s:\n${text}`)), 60_000);
    const finish = (outcome: string | Error) => {
      clearTimeout(timer);
      child.kill();
      if (typeof outcome === 'string') resolve(outcome);
      else reject(outcome);
    };
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const line = text.split('\n').find((l) => /error/i.test(l));
      if (line) finish(line);
    });
    child.once('exit', () => finish(new Error(`mcp-remote exited before an error line:\n${text}`)));
  });
}

describe('auth answers with auth "tokens" (the default)', () => {
  let h: TestHost;
  let scratch: string;
  before(async () => {
    h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS });
    scratch = mkdtempSync(join(tmpdir(), 'harbor-auth-answers-'));
  });
  after(async () => {
    await h.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('every OAuth discovery document, and the default endpoints, answer a JSON 404', async () => {
    for (const path of DISCOVERY_PATHS) {
      const res = await fetch(h.url + path);
      assert.equal(res.status, 404, path);
      assert.match((await errorOf(res)).message, /invalid or revoked.*no OAuth sign-in/, path);
    }
    for (const [method, path] of [['POST', '/register'], ['GET', '/authorize'], ['POST', '/token'], ['POST', '/revoke']] as const) {
      const res = await fetch(h.url + path, { method, headers: { 'Content-Type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) });
      assert.equal(res.status, 404, path);
      assert.match((await errorOf(res)).message, INVALID, path);
    }
  });

  test('a wrong token: 401, Bearer error="invalid_token" with error_description, no resource_metadata, on every endpoint form', async () => {
    const urls = [`${h.url}/docs/mcp`, `${h.url}/mcp/docs`, `${h.url}/t/hbr_not-a-token/docs/mcp`];
    for (const url of urls) {
      const res = await post(url, url.includes('/t/') ? {} : { Authorization: 'Bearer hbr_not-a-token' });
      assert.equal(res.status, 401, url);
      const challenge = res.headers.get('www-authenticate')!;
      assert.match(challenge, /^Bearer realm="harbor", error="invalid_token", error_description="the Harbor token is invalid or revoked: [^"]+"$/, url);
      assert.doesNotMatch(challenge, /resource_metadata/);
      const error = await errorOf(res);
      assert.equal(error.code, -32001);
      assert.match(error.message, INVALID);
    }
    const stream = await fetch(`${h.url}/docs/sse`, { headers: { Authorization: 'Bearer hbr_not-a-token' } });
    assert.equal(stream.status, 401);
    assert.match(stream.headers.get('www-authenticate')!, /error="invalid_token"/);
    await stream.arrayBuffer();
  });

  test('no token: 401 with a bare Bearer challenge (RFC 6750: no error code), the words in the body', async () => {
    const res = await post(`${h.url}/docs/mcp`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="harbor"');
    assert.match((await errorOf(res)).message, /a Harbor token is required/);
  });

  test('mcp-remote with a wrong token: the first error line says the token is invalid or revoked', async () => {
    const line = await firstMcpRemoteError(`${h.url}/docs/mcp`, join(scratch, 'mcp-remote'));
    assert.match(line, INVALID, line);
  });

  test('the Inspector CLI with a wrong token says the token is invalid or revoked', async (t) => {
    const env = { ...process.env, HOME: scratch, MCP_INSPECTOR_SECRET_STORE: 'memory', NO_COLOR: '1' };
    const args = ['--cli', `${h.url}/docs/mcp`, '--method', 'tools/list', '--header', 'Authorization: Bearer hbr_not-a-token'];
    // Non-interactive runs (CI): --stored-auth-only reports the 401's own body.
    const stored = await run(INSPECTOR, [...args, '--stored-auth-only'], { env, timeout: 60_000 }).then(
      () => assert.fail('a wrong token was accepted'),
      (error: { stdout: string; stderr: string }) => `${error.stdout}${error.stderr}`,
    );
    assert.match(stored, INVALID, stored);
    // A person at a terminal: the Inspector tries OAuth, and prints the registration endpoint's refusal.
    if (spawnSync('script', ['--version']).status !== 0) return t.skip('util-linux script (a pseudo-terminal) is not installed');
    const command = [INSPECTOR, ...args].map((a) => `'${a}'`).join(' ');
    // Asynchronously: the host answering it runs in this process.
    const tty = await new Promise<string>((resolve) => {
      const child = execFile('script', ['-qec', command, '/dev/null'], { env, timeout: 60_000 }, (_error, stdout) => resolve(stdout));
      child.stdin?.end();
    });
    const first = tty.split('\n').find((l) => /error/i.test(l)) ?? tty;
    assert.match(first, /invalid or revoked/i, first);
  });
});

describe('auth answers with sign-in on', () => {
  test('a document sign-in does not serve (openid-configuration) is a JSON 404 that points to the metadata Harbor has', async () => {
    const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both' });
    try {
      const res = await fetch(`${h.url}/.well-known/openid-configuration`);
      assert.equal(res.status, 404);
      assert.match((await errorOf(res)).message, /oauth-authorization-server/);
      assert.equal((await fetch(`${h.url}/.well-known/oauth-authorization-server`)).status, 200);
    } finally {
      await h.close();
    }
  });
});
