import type { ConfigDiff } from '../config/config-diff.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { Logger } from '../logger.ts';
import type { AdminEvents } from './admin-events.ts';
import type { DocsPart } from './docs-part.ts';
import { removeHosted, type Sessions, type StdioServers } from './hosted-servers.ts';

export interface Reconciled {
  added: string[];
  removed: string[];
  restarted: string[];
  docsMoved: boolean;
}

/**
 * Applies an edit of config.json to what is hosted: added entries start, removed ones close (their
 * sessions end: the client's next request gets 404 and it re-initialises, as after a restart),
 * changed ones close and start with the new entry; the rest, and their sessions, are left alone.
 *
 * Idempotent against the catalog, not the old file: the admin API's add and remove change the
 * catalog first and config.json after, so when the watcher then reports "added x", x is running
 * already and nothing happens twice.
 */
export async function reconcileServers(
  diff: ConfigDiff,
  parts: { servers: Map<string, HostedServer>; stdio: StdioServers; docs: DocsPart; sessions: Sessions; events: AdminEvents; log: Logger },
): Promise<Reconciled> {
  const { servers, stdio, sessions, events, log } = parts;
  const done: Reconciled = { added: [], removed: [], restarted: [], docsMoved: false };
  for (const name of diff.removed) {
    if (!(await removeHosted(servers, name, sessions))) continue;
    done.removed.push(name);
    log.info({ server: name }, 'config.json: server removed');
    events.publish({ type: 'server', action: 'removed', name, by: 'config.json' });
  }
  for (const [name, entry] of diff.changed) {
    const wasRunning = await removeHosted(servers, name, sessions);
    stdio.add(name, entry);
    (wasRunning ? done.restarted : done.added).push(name);
    log.info({ server: name }, wasRunning ? 'config.json: server changed, restarted' : 'config.json: server added');
    events.publish({ type: 'server', action: wasRunning ? 'restarted' : 'added', name, by: 'config.json' });
  }
  for (const [name, entry] of diff.added) {
    if (servers.has(name)) continue;
    stdio.add(name, entry);
    done.added.push(name);
    log.info({ server: name }, 'config.json: server added');
    events.publish({ type: 'server', action: 'added', name, by: 'config.json' });
  }
  const folder = diff.docs?.next?.folder;
  const current = parts.docs.current();
  // A new folder moves the docs server live (as "pick folder" does); turning it on or off, or its
  // other settings, wait for a restart (reported with diff.needsRestart by the caller).
  if (folder && current && current.folder !== folder) {
    await parts.docs.moveTo(folder, sessions);
    done.docsMoved = true;
    log.info({ folder }, 'config.json: docs folder changed');
  }
  return done;
}
