import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectClient, startTestHost, textOf, waitFor } from '../helpers/harbor.ts';

test('the built-in docs server finds, ranks, reads and notices new files', async () => {
  const h = await startTestHost(null);
  const folder = join(h.home, 'docs');
  const client = await connectClient(h.url, 'docs', h.token);
  try {
    // First start created the folder with a welcome document.
    // The first scan runs in the background; a request never waits for it.
    const listing = await waitFor(async () => {
      const text = textOf(await client.callTool({ name: 'list_docs', arguments: {} }));
      return /welcome/.test(text) ? text : null;
    }, 10_000, 'the first scan');
    assert.match(listing, /welcome\.md — Welcome to Harbor/);

    mkdirSync(join(folder, 'runbooks'));
    writeFileSync(join(folder, 'runbooks', 'deploy.md'), '# Deploy\n\nRoll out with the blue green switch. Check the kraken dashboard.\n');
    writeFileSync(join(folder, 'kraken.md'), '# Kraken\n\nKraken kraken kraken: the kraken queue feeds the kraken workers.\n');
    writeFileSync(join(folder, 'image.bin'), Buffer.from([0, 1, 2, 3]));

    const search = async (query: string) =>
      (await client.callTool({ name: 'search_docs', arguments: { query } })).structuredContent as {
        results: Array<{ path: string; snippet: string }>;
      };
    const found = await waitFor(async () => {
      const r = await search('kraken');
      return r.results.length === 2 ? r : null;
    }, 10_000, 'new files to be indexed');
    // The document about the word ranks above the one that mentions it once.
    assert.deepEqual(found.results.map((r) => r.path), ['kraken.md', 'runbooks/deploy.md']);
    assert.match(found.results[0]!.snippet, /\*\*kraken\*\*/i);

    assert.equal((await search('blue green')).results[0]?.path, 'runbooks/deploy.md');
    // FTS syntax in a query is only words: this one matches on "docs" and breaks nothing.
    assert.deepEqual((await search('"); DROP TABLE docs; --')).results.map((r) => r.path), ['welcome.md']);
    assert.equal((await search('nonexistentword')).results.length, 0);

    const read = await client.callTool({ name: 'read_doc', arguments: { path: 'runbooks/deploy.md' } });
    assert.match(textOf(read), /blue green switch/);
    const outside = await client.callTool({ name: 'read_doc', arguments: { path: '../config.json' } });
    assert.equal(outside.isError, true);
    const binary = await client.callTool({ name: 'read_doc', arguments: { path: 'image.bin' } });
    assert.equal(binary.isError, true);

    // An edit is re-indexed; a removed file disappears.
    writeFileSync(join(folder, 'kraken.md'), '# Octopus\n\nNothing to see.\n');
    await waitFor(async () => (await search('octopus')).results.length === 1, 10_000, 'the edit to be indexed');
    assert.deepEqual((await search('kraken')).results.map((r) => r.path), ['runbooks/deploy.md']);
  } finally {
    await client.close();
    await h.close();
  }
});
