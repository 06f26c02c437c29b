import { app } from 'electron';
import { HttpHostApi } from '../../renderer/host-api.ts';
import type { HostApi } from '../../server/admin/host-api.ts';
import { appHomeNote, claimAppHome, type AppHome } from '../core/app-home.ts';
import { homeChange, type HostLink } from '../core/tray-host.ts';

/**
 * The admin API client of the host the app talks to, and how the app holds the home (app-home.ts):
 * owned, the client comes when its own host is ready; attached, it points at the running `harbor serve`,
 * and each look at the home again (reclaim) follows that Harbor, or starts over as owner once it is gone.
 */
export interface HomeConnection {
  readonly claim: AppHome;
  /** Null while no host is ready. */
  api(): HostApi | null;
  /** The client, or an error saying Harbor is starting (for callers that must answer). */
  currentApi(): HostApi;
  /** This app's own host is ready at `link`. */
  connect(link: HostLink): void;
  /** Attached or waiting: look at the home again (tray-host.ts homeChange decides what it means). */
  reclaim(): void;
}

export function connectHome(home: string, claim: AppHome, log: { info(message: string): void }): HomeConnection {
  let api: HostApi | null = claim.mode === 'attached' ? new HttpHostApi({ baseUrl: claim.url, secret: claim.secret }) : null;
  const connect = (link: HostLink): void => {
    api = new HttpHostApi({ baseUrl: link.url, secret: link.secret });
  };
  return {
    get claim() {
      return claim;
    },
    api: () => api,
    currentApi() {
      if (!api) throw new Error('Harbor is starting; try again in a moment');
      return api;
    },
    connect,
    reclaim() {
      const next = claimAppHome(home);
      const change = homeChange(claim, next);
      if (change.kind === 'own' && next.mode === 'own') {
        log.info('the harbor serve this app was attached to has stopped: restarting to host here');
        next.lock.release();
        app.relaunch();
        app.exit(0);
        return;
      }
      if (change.kind === 'attach') {
        connect(change.link);
        log.info(appHomeNote(next)!);
      }
      claim = next;
    },
  };
}
