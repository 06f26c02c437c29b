/**
 * `harbor serve` tells the owner on the terminal when a teammate's sign-in waits for approval
 * (issue 18): one line per request, naming who, from which client, and the command that answers it.
 * A real `harbor serve` with auth "both", sign-ins made over HTTP as a client's browser would.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempHome, waitFor } from '../helpers/harbor.ts';
import { harborResult, spawnServe } from '../helpers/harbor-cli.ts';
import { authorizeUrl, openAuthorize, pkcePair, registerClient, submitSignIn } from '../helpers/oauth-browser.ts';

async function waitingSignIn(base: string, clientName: string, name: string): Promise<string> {
  const { client_id } = await registerClient(base, undefined, clientName);
  const page = await openAuthorize(authorizeUrl(base, { clientId: client_id, challenge: pkcePair().challenge }));
  assert.equal(page.status, 200, page.html.slice(0, 300));
  const submitted = await submitSignIn(base, page, { name });
  await submitted.arrayBuffer();
  assert.equal(submitted.status, 303);
  return page.requestId;
}

const linesAbout = (stderr: string, id: string) => stderr.split('\n').filter((line) => line.includes(`harbor approve ${id}`));

test('harbor serve prints each sign-in waiting for approval once, with the command that approves it', async (t) => {
  const { home, cleanup } = tempHome();
  writeFileSync(join(home, 'config.json'), JSON.stringify({ mcpServers: {}, docs: { folder: 'docs' }, auth: 'both' }));
  const env = { ...process.env, HARBOR_HOME: home, HARBOR_LOG_LEVEL: 'info' };
  const serve = spawnServe(env);
  t.after(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    cleanup();
  });
  const base = await serve.url;

  const alice = await waitingSignIn(base, 'Claude Code', 'alice');
  const line = await waitFor(() => linesAbout(serve.stderr(), alice)[0], 30_000, 'the waiting line for alice');
  assert.match(line, new RegExp(`alice wants to connect from Claude Code \\(not invited\\) — approve with \`harbor approve ${alice}\``));

  // A later request is announced on a later poll; alice's, still waiting, is not said again.
  const bob = await waitingSignIn(base, 'Cursor', 'bob');
  await waitFor(() => linesAbout(serve.stderr(), bob)[0], 30_000, 'the waiting line for bob');
  assert.equal(linesAbout(serve.stderr(), alice).length, 1, 'alice announced once');

  // The printed command works as printed.
  const approved = await harborResult(env, ['approve', alice]);
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /Approved: alice can connect from Claude Code/);
});
