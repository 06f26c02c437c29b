/// <reference lib="esnext.disposable" />
/**
 * The host's parts are opened in order and closed in reverse, on close and when start fails
 * half-way. Node 24's AsyncDisposableStack is that stack (the standard, not a hand-written list):
 * `await using` disposes it if the build throws; on success its contents move to the part's close().
 * A close failing during that clean-up is reported as the standard SuppressedError (error: the close's,
 * suppressed: the build's).
 */

/** Anything the host opens and must close. */
export interface Closable {
  close(): Promise<void> | void;
}

/** Puts a part on the stack and returns it: closed after everything put on later. */
export function own<T extends Closable>(opened: AsyncDisposableStack, part: T): T {
  return opened.adopt(part, (p) => p.close());
}

/**
 * Builds a part from what it opens on `opened`; the part's close() closes all of it, last opened
 * first. If the build throws, what it had opened is closed before the error goes on.
 */
export async function buildClosable<T extends object>(build: (opened: AsyncDisposableStack) => Promise<T>): Promise<T & { close(): Promise<void> }> {
  await using opened = new AsyncDisposableStack();
  const part = await build(opened);
  const owned = opened.move();
  return Object.assign(part, { close: () => owned.disposeAsync() });
}
