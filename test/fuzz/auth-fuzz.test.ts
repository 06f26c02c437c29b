import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { seededRandom } from '../fixtures/seeded-random.ts';
import { startTestHost } from '../helpers/harbor.ts';


const PIECES = ['', ' ', 'Bearer', 'bearer ', 'Bearer  ', 'Basic ', 'hbr_', '..', '../', '%2e%2e', '%00', '\u00e9', '\u{1F600}', '\u202e', '/', '//', '\\', '"', "'", '<script>', 'x'.repeat(5000), '=', ';', ',', 'null', '\t', 'A'.repeat(43), '%', '%zz', '?', '#', '*'];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function garble(random: () => number, parts: number): string {
  let out = '';
  for (let i = 0; i < parts; i++) out += pick(random, PIECES);
  return out;
}

/** Sends one raw request (node:http lets odd header values through where fetch would refuse them). */
function send(url: string, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}');
  });
}

test('fuzz: 1,000 malformed Authorization headers, paths and Origins: all 4xx, never 5xx, no crash', async () => {
  const h = await startTestHost(null);
  // Seeded, so a failure can be replayed.
  const random = seededRandom(20261125);
  const seen = new Map<number, number>();
  try {
    for (let i = 0; i < 1000; i++) {
      const kind = i % 3;
      const headers: Record<string, string> = {};
      let path = '/mcp/docs';
      // Header values must be latin1 without control characters to be sendable at all.
      const headerSafe = (value: string) => value.replace(/[^\x20-\x7e]/g, '?');
      if (kind === 0) headers.Authorization = headerSafe(garble(random, 1 + Math.floor(random() * 4)));
      if (kind === 1) {
        headers.Authorization = `Bearer ${h.token}`;
        path = '/' + encodeURI(garble(random, 1 + Math.floor(random() * 5))).slice(0, 3000);
        if (random() < 0.5) path = `/t/${encodeURIComponent(garble(random, 2))}/mcp/docs`;
        if (random() < 0.2) path = `/t/${h.token}/../../admin/status`;
      }
      if (kind === 2) {
        headers.Authorization = `Bearer ${h.token}`;
        headers.Origin = headerSafe(garble(random, 1 + Math.floor(random() * 3)) || 'null');
      }
      const status = await send(h.url, path, headers).catch(() => 0);
      seen.set(status, (seen.get(status) ?? 0) + 1);
      assert.ok(status >= 400 && status < 500, `request ${i} (${kind}) got ${status}: ${JSON.stringify({ path: path.slice(0, 80), headers }).slice(0, 300)}`);
    }
    // The host still serves after the storm.
    assert.equal((await fetch(`${h.url}/health`)).status, 200);
    assert.ok((seen.get(401) ?? 0) > 0 && (seen.get(403) ?? 0) + (seen.get(404) ?? 0) > 0, JSON.stringify([...seen]));
  } finally {
    await h.close();
  }
});
