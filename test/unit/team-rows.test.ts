import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LiveSignIn, Teammate, TeammateConnection } from '../../server/admin/host-api.ts';
import { teamRows } from '../../renderer/sections/team-rows.ts';

// The Team tab lists only ways in that still work (issue 18 follow-up): the audit log remembers every
// way a teammate ever came in; the token store and the live sign-ins say which still open the door.

const teammate = (name: string, revokedAt: number | null = null): Teammate =>
  ({ name, createdAt: 1, lastUsedAt: null, calls: 0, revokedAt, expiresAt: null, scope: null }) as Teammate;
const viaToken = (name: string, lastAt: number, calls = 1): TeammateConnection => ({ teammate: name, via: { kind: 'token', token: name }, lastAt, calls });
const viaSignIn = (name: string, client: string, lastAt: number, calls = 1): TeammateConnection => ({ teammate: name, via: { kind: 'sign-in', client }, lastAt, calls });
const live = (name: string): LiveSignIn => ({ teammate: name, clientId: `c-${name}`, clientName: 'Claude Code', resource: 'http://127.0.0.1/', createdAt: 1, lastRefreshedAt: null });

const shape = (view: ReturnType<typeof teamRows>) => ({
  rows: view.rows.map((r) => [r.teammate.name, r.teammate.calls, r.connections.map((c) => (c.via.kind === 'token' ? 'token' : c.via.client))]),
  revoked: view.revoked,
  signedOut: view.signedOut,
});

test('a teammate who only signed in shows while a sign-in is live, and leaves the list (counted) once none is', () => {
  const log = [viaSignIn('erin', 'Claude Code', 20, 3), viaSignIn('erin', 'Cursor', 10, 2), viaToken('alice', 30)];
  assert.deepEqual(shape(teamRows([teammate('alice')], log, [live('erin')])), {
    rows: [['alice', 0, ['token']], ['erin', 5, ['Claude Code', 'Cursor']]],
    revoked: 0,
    signedOut: 0,
  });
  assert.deepEqual(shape(teamRows([teammate('alice')], log, [])), { rows: [['alice', 0, ['token']]], revoked: 0, signedOut: 1 });
});

test('a token holder\'s sign-in ways show only while they have a live sign-in; a revoked token\'s way never shows', () => {
  const log = [viaToken('alice', 30), viaSignIn('alice', 'Claude Code', 20)];
  assert.deepEqual(shape(teamRows([teammate('alice')], log, [live('alice')])).rows, [['alice', 0, ['token', 'Claude Code']]]);
  assert.deepEqual(shape(teamRows([teammate('alice')], log, [])).rows, [['alice', 0, ['token']]], 'her sign-in ended: only the token is a way in');
  // Revoked token, then signed in again: a row for the live sign-in, without the dead token's way.
  assert.deepEqual(shape(teamRows([teammate('alice', 5)], log, [live('alice')])), { rows: [['alice', 1, ['Claude Code']]], revoked: 1, signedOut: 0 });
  // Revoked both: off the list, counted once (as revoked, not also as signed out).
  assert.deepEqual(shape(teamRows([teammate('alice', 5)], log, [])), { rows: [], revoked: 1, signedOut: 0 });
});

test('a live sign-in with no call yet still gets a row (never seen), so the owner can revoke it', () => {
  const view = teamRows([], [], [live('gina'), live('gina')]);
  assert.deepEqual(shape(view).rows, [['gina', 0, []]]);
  assert.equal(view.rows[0]!.teammate.lastUsedAt, null);
});
