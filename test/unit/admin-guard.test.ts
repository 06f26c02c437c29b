import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { ADMIN_SECRET_HEADER, adminRefusal } from '../../server/admin/admin-api.ts';

// A request as the HTTP server hands it over; only the peer address and headers matter to the guard.
function req(remoteAddress: string, headers: Record<string, string>): IncomingMessage {
  return { socket: { remoteAddress }, headers } as unknown as IncomingMessage;
}

test('the admin guard: loopback peers only, no forwarded requests, the right secret', () => {
  const secret = 's3cret';
  const ok = { [ADMIN_SECRET_HEADER]: secret };
  assert.equal(adminRefusal(req('127.0.0.1', ok), secret), null);
  assert.equal(adminRefusal(req('::1', ok), secret), null);
  assert.equal(adminRefusal(req('::ffff:127.0.0.1', ok), secret), null);
  // A host bound to a LAN address: peers from elsewhere never reach the admin API, even with the secret.
  assert.equal(adminRefusal(req('192.168.1.20', ok), secret)?.status, 403);
  assert.equal(adminRefusal(req('10.0.0.5', ok), secret)?.status, 403);
  assert.equal(adminRefusal(req('127.0.0.1', { ...ok, 'cf-ray': 'abc' }), secret)?.status, 403);
  assert.equal(adminRefusal(req('127.0.0.1', { ...ok, forwarded: 'for=1.2.3.4' }), secret)?.status, 403);
  assert.equal(adminRefusal(req('127.0.0.1', {}), secret)?.status, 401);
  assert.equal(adminRefusal(req('127.0.0.1', { [ADMIN_SECRET_HEADER]: 's3cre' }), secret)?.status, 401);
  assert.equal(adminRefusal(req('127.0.0.1', { [ADMIN_SECRET_HEADER]: 's3cret ' }), secret)?.status, 401);
});
