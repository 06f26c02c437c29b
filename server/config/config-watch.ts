import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { scheduleUnref, type Schedule } from '../gateway/unref-timer.ts';
import type { HarborConfig } from './config-schema.ts';
import { ConfigError } from './load-config.ts';

/** A new version of config.json: validated, or the reasons it was refused (the running config stays). */
export type ConfigUpdate = { config: HarborConfig; error?: undefined } | { config?: undefined; error: ConfigError };

export interface ConfigWatchOptions {
  file: string;
  /** The existing loader (loadConfig): throws a ConfigError naming each bad field. */
  load: () => HarborConfig;
  onUpdate: (update: ConfigUpdate) => void;
  /** Quiet time after the last change before reading: an editor's save is several events. */
  debounceMs?: number;
  /** The stat poll behind fs.watch (network folders, full inotify tables, missed renames). */
  pollMs?: number;
  /** Off in tests of the poll alone. */
  fsWatch?: boolean;
  schedule?: Schedule;
}

export interface ConfigWatch {
  close(): void;
}

/** Stat fields that change with any write; a cheap gate for the poll before reading the file. */
function signature(file: string): string {
  try {
    const stat = statSync(file);
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** What a new text of the file means: its validated config, or why it is refused. */
function updateFor(file: string, text: string | null, load: () => HarborConfig): ConfigUpdate {
  // A vanished file is refused, not read as "no config, defaults": a delete mid-save (or by mistake)
  // must not close every hosted server.
  if (text === null) return { error: new ConfigError(file, ['the file is gone: keeping the running config']) };
  try {
    return { config: load() };
  } catch (error) {
    return { error: error instanceof ConfigError ? error : new ConfigError(file, [(error as Error).message]) };
  }
}

/** fs.watch on the file's folder, calling back for events on the file; on an error it stops quietly. */
function watchFolderOf(file: string, changed: () => void): { close(): void } {
  let watcher: FSWatcher | null = null;
  try {
    const name = basename(file);
    // filename can be null on some platforms: then any event in the folder counts.
    watcher = watch(dirname(file), { persistent: false }, (_event, filename) => {
      if (!filename || filename === name) changed();
    });
    watcher.on('error', () => {
      watcher?.close();
      watcher = null; // the poll carries on alone
    });
  } catch {
    watcher = null;
  }
  return { close: () => watcher?.close() };
}

/**
 * Watches config.json and hands each new version to `onUpdate`. The folder is watched, not the file:
 * editors (and editConfig) save by writing a temp file and renaming it over the old one, which ends a
 * watch on the file itself. A version is read once its text differs from the last one read, so a
 * touch, or the admin API's own write seen twice, calls back at most once.
 *
 * Hand-written rather than chokidar (only a transitive dev dependency here, not one of ours): one file,
 * fs.watch plus a stat poll, no globs or recursion needed.
 */
export function watchConfig(options: ConfigWatchOptions): ConfigWatch {
  const { file } = options;
  const schedule = options.schedule ?? scheduleUnref;
  const debounceMs = options.debounceMs ?? 200;
  const pollMs = options.pollMs ?? 2000;
  let lastText = readText(file);
  let lastSignature = signature(file);
  let cancelDebounce: (() => void) | null = null;
  let cancelPoll: (() => void) | null = null;
  let closed = false;

  const read = () => {
    cancelDebounce = null;
    lastSignature = signature(file);
    const text = readText(file);
    if (closed || text === lastText) return;
    lastText = text;
    options.onUpdate(updateFor(file, text, options.load));
  };
  const changed = () => {
    if (closed) return;
    cancelDebounce?.();
    cancelDebounce = schedule(read, debounceMs);
  };
  const poll = () => {
    if (closed) return;
    if (signature(file) !== lastSignature) changed();
    cancelPoll = schedule(poll, pollMs);
  };

  const watcher = options.fsWatch !== false ? watchFolderOf(file, changed) : null;
  cancelPoll = schedule(poll, pollMs);
  return {
    close: () => {
      closed = true;
      watcher?.close();
      cancelDebounce?.();
      cancelPoll?.();
    },
  };
}
