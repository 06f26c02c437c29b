import type { ServerResponse } from 'node:http';

/**
 * The long-lived responses of the 2026-07-28 era, by teammate: `subscriptions/listen` streams and calls
 * that switched to SSE. That era has no session for revocation to end (session-registry.ts), so a
 * revoked teammate's open streams would outlive their token; ending one destroys its response, which
 * is what the caller going away does: a call is cancelled upstream (modern-post.ts), a listen stream
 * leaves the router. Short JSON answers are not held: they end within MODERN_SSE_AFTER_MS, and each
 * would pay a listener for a case that never comes.
 */
export class TeammateStreams {
  readonly #open = new Map<string, Set<ServerResponse>>();

  hold(teammate: string, res: ServerResponse): void {
    if (res.destroyed) return;
    let held = this.#open.get(teammate);
    if (!held) this.#open.set(teammate, (held = new Set()));
    held.add(res);
    res.once('close', () => {
      held.delete(res);
      if (held.size === 0 && this.#open.get(teammate) === held) this.#open.delete(teammate);
    });
  }

  /** Destroys every held response of `teammate`; returns how many were open. */
  end(teammate: string): number {
    const held = this.#open.get(teammate);
    if (!held) return 0;
    this.#open.delete(teammate);
    for (const res of held) res.destroy();
    return held.size;
  }
}
