import type { ChildProcess } from 'node:child_process';

/**
 * Supervised children run in their own process groups (so a stop reaches grandchildren), which also means they do
 * not die with us. If this process exits without stopping them — an uncaught exception, process.exit() — the
 * guard SIGKILLs each group from the 'exit' handler, the last moment synchronous code runs. Nothing can help
 * after a SIGKILL of this process; stdio children then see EOF on stdin and IPC children a disconnect.
 */

const guarded = new Map<ChildProcess, boolean>();
let installed = false;

function killAll(): void {
  for (const [child, group] of guarded) {
    try {
      if (group && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  guarded.clear();
}

/** Kills `child` (its whole group when `group`) if this process exits first. Returns the function that lifts the guard. */
export function killOnExit(child: ChildProcess, group: boolean): () => void {
  if (!installed) {
    process.on('exit', killAll);
    installed = true;
  }
  guarded.set(child, group);
  return () => {
    guarded.delete(child);
  };
}
