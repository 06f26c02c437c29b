import { isDeepStrictEqual } from 'node:util';
import type { DocsConfig, HarborConfig, StdioServerConfig } from './config-schema.ts';

/** What an edit of config.json changes, as the host applies it live. */
export interface ConfigDiff {
  /** Entries new to the file (or turned back on): start them. */
  added: Array<[name: string, entry: StdioServerConfig]>;
  /** Entries gone from the file (or `disabled: true`): close them. */
  removed: string[];
  /** Entries whose fields changed in any way: close and start them with the new entry. */
  changed: Array<[name: string, entry: StdioServerConfig]>;
  /** The built-in docs server: its new settings when they changed (undefined: turned off), else absent. */
  docs?: { next: DocsConfig | undefined };
  /**
   * Top-level settings that changed and are read only at start (port, host, store, limits…): reported
   * "needs restart", never applied, so a live edit cannot half-apply a listening address or a store.
   */
  needsRestart: string[];
}

/** Hosted entries only: a disabled entry is not served, so turning it on or off is an add or a remove. */
function served(config: HarborConfig): Map<string, StdioServerConfig> {
  return new Map(Object.entries(config.mcpServers).filter(([, entry]) => !entry.disabled));
}

/** Fields the diff handles itself; every other top-level field needs a host restart. */
const LIVE_FIELDS = new Set(['mcpServers', 'docs', '$schema']);

export function diffConfig(running: HarborConfig, next: HarborConfig): ConfigDiff {
  const before = served(running);
  const after = served(next);
  const diff: ConfigDiff = { added: [], removed: [], changed: [], needsRestart: [] };
  for (const [name, entry] of after) {
    const old = before.get(name);
    if (!old) diff.added.push([name, entry]);
    // Deep equality of the validated entries (defaults filled in): adding a field that says what the
    // default already said changes nothing, and the server keeps running.
    else if (!isDeepStrictEqual(old, entry)) diff.changed.push([name, entry]);
  }
  for (const name of before.keys()) if (!after.has(name)) diff.removed.push(name);
  if (!isDeepStrictEqual(running.docs, next.docs)) diff.docs = { next: next.docs };
  const fields = new Set([...Object.keys(running), ...Object.keys(next)]);
  for (const field of fields) {
    if (LIVE_FIELDS.has(field)) continue;
    if (!isDeepStrictEqual((running as Record<string, unknown>)[field], (next as Record<string, unknown>)[field])) diff.needsRestart.push(field);
  }
  return diff;
}

export function isEmptyDiff(diff: ConfigDiff): boolean {
  return !diff.added.length && !diff.removed.length && !diff.changed.length && !diff.docs && !diff.needsRestart.length;
}
