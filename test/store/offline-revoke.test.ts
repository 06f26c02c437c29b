import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { AuthorizationRequest } from '../../server/oauth/sign-in-requests.ts';
import type { SignInStores } from '../../server/oauth/sign-in-stores.ts';
import { withOfflineTeammates } from '../../server/services/offline-services.ts';
import { waitFor } from '../helpers/harbor.ts';
import { describeEachBackend, type StoreBackend, type StoreSite } from './store-backends.ts';

/**
 * `harbor token revoke <name>` with no host answering (or with HARBOR_DATABASE_URL): the teammate's
 * static token and their sign-ins (access and refresh tokens) are revoked in the store itself, as the
 * host's admin does; on PostgreSQL their waiting sign-in requests go too. The running host hears of
 * it (and ends their sessions): a replica by NOTIFY, a host on SQLite by looking at the file.
 */

const AUTH: AuthorizationRequest = { clientId: 'client-1', clientName: 'Cursor', redirectUri: 'http://127.0.0.1/cb', codeChallenge: 'x', scopes: ['mcp'], resource: 'r', issuer: 'i' };

interface Host {
  site: StoreSite;
  stores: SignInStores;
  /** An access and refresh pair for `teammate`, as a finished sign-in leaves them. */
  signIn(teammate: string): Promise<{ accessToken: string; refreshToken: string }>;
}

/** The store as a running host (a replica, on PostgreSQL) has it open, with sign-in on. */
async function hostStore(backend: StoreBackend, t: TestContext): Promise<Host & { tokens: { issue(name: string): unknown } }> {
  const site = await backend.fresh(t);
  const store = await site.open();
  const stores = await store.signIn();
  return {
    site,
    stores,
    tokens: store.tokens,
    async signIn(teammate) {
      const code = await stores.grants.issueCode({ clientId: 'client-1', teammate, resource: 'http://127.0.0.1:1/docs/mcp', scopes: ['mcp'], codeChallenge: 'c', redirectUri: 'http://127.0.0.1/cb' });
      const redeemed = await stores.grants.redeemCode(code, 'client-1');
      return stores.grants.issueTokens(redeemed, redeemed.family);
    },
  };
}

const offlineRevoke = (site: StoreSite, name: string) => withOfflineTeammates({ paths: site.paths, env: site.env }, (teammates) => teammates.revoke(name));

describeEachBackend('offline revoke', (backend) => {
  test('revokes the static token and every sign-in of the teammate, nobody else\'s', async (t) => {
    const host = await hostStore(backend, t);
    host.tokens.issue('alice');
    const first = await host.signIn('alice');
    const second = await host.signIn('alice');
    const bob = await host.signIn('bob');
    const heard: string[] = [];
    host.stores.onTeammateRevoked?.((teammate) => heard.push(teammate));
    // Read once, so a replica's cache holds alice's token as granted: the revocation must reach it.
    assert.equal((await host.stores.grants.verifyAccess(first.accessToken))?.teammate, 'alice');

    const revoked = await offlineRevoke(host.site, 'alice');

    assert.deepEqual(revoked, { name: 'alice', tokenRevoked: true, signInTokensRevoked: 4, sessionsClosed: 0 });
    await waitFor(async () => (await host.stores.grants.verifyAccess(first.accessToken)) === null, 5000, 'the host refuses the revoked access token');
    assert.equal(await host.stores.grants.verifyAccess(second.accessToken), null);
    for (const pair of [first, second]) await assert.rejects(host.stores.grants.rotateRefresh(pair.refreshToken, 'client-1'), /refresh token/i);
    assert.equal((await host.stores.grants.verifyAccess(bob.accessToken))?.teammate, 'bob', 'another teammate keeps their sign-in');
    assert.deepEqual((await host.stores.grants.grants()).map((g) => g.teammate), ['bob']);
    // The host ends the teammate's sessions on this (revocation-watch-part.ts): a replica by NOTIFY, a host on SQLite by its look at the file.
    await waitFor(() => heard.includes('alice'), 5000, 'the running host hears of the revocation');
    // Its own revocations (the admin API's, which close the sessions themselves) are not reported back.
    await host.stores.grants.revokeTeammate('bob');
    host.tokens.issue('dave');
    await offlineRevoke(host.site, 'dave'); // a static token only: no grant ended, nothing for the sign-in side to report
    // Heard in order (the channel's, the file's log): once erin is heard, anything before her would have been.
    await host.signIn('erin');
    await offlineRevoke(host.site, 'erin');
    await waitFor(() => heard.includes('erin'), 5000, 'the later revocation to be heard');
    assert.deepEqual(heard, ['alice', 'erin'], 'each once, and only revocations made elsewhere that ended a grant');
  });

  test('a teammate who only signed in (no static token) is revoked too; a second revoke finds nothing', async (t) => {
    const host = await hostStore(backend, t);
    const pair = await host.signIn('carol');
    assert.deepEqual(await offlineRevoke(host.site, 'carol'), { name: 'carol', tokenRevoked: false, signInTokensRevoked: 2, sessionsClosed: 0 });
    await waitFor(async () => (await host.stores.grants.verifyAccess(pair.accessToken)) === null, 5000, 'access token refused');
    assert.deepEqual(await offlineRevoke(host.site, 'carol'), { name: 'carol', tokenRevoked: false, signInTokensRevoked: 0, sessionsClosed: 0 });
  });

  test('PostgreSQL: the teammate\'s sign-in requests waiting for the owner are dropped', { skip: backend.name === 'sqlite' && 'waiting requests live in the host\'s memory on SQLite' }, async (t) => {
    const host = await hostStore(backend, t);
    for (const name of ['alice', 'bob']) {
      const request = await host.stores.requests.open(AUTH);
      await host.stores.requests.submit(request.id, name, { invited: false, preApproved: false });
    }
    assert.deepEqual((await host.stores.requests.pending()).map((p) => p.teammate).sort(), ['alice', 'bob']);
    await offlineRevoke(host.site, 'alice');
    assert.deepEqual((await host.stores.requests.pending()).map((p) => p.teammate), ['bob']);
  });
});
