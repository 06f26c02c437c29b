/**
 * Resource subscriptions on one shared upstream, by URI: which sessions hold each, so
 * `notifications/resources/updated` reaches those sessions only, and the upstream hears an
 * unsubscribe only when the last holder lets go (one upstream subscription serves every session).
 */
const NONE_RELEASED: readonly string[] = Object.freeze([]);

export class Subscriptions<P> {
  /** URI → sessions holding it; a URI nobody holds is absent. */
  readonly #holders = new Map<string, Set<P>>();

  add(peer: P, uri: string): void {
    let holders = this.#holders.get(uri);
    if (!holders) this.#holders.set(uri, (holders = new Set()));
    holders.add(peer);
  }

  /** The peer lets go of `uri`; returns whether another session still holds it (then the upstream keeps it). */
  remove(peer: P, uri: string): boolean {
    const holders = this.#holders.get(uri);
    if (!holders) return false;
    holders.delete(peer);
    if (holders.size > 0) return true;
    this.#holders.delete(uri);
    return false;
  }

  /** A session ended: returns the URIs nobody holds any more (to unsubscribe upstream). */
  release(peer: P): readonly string[] {
    let released: string[] | undefined; // allocated only when needed: this runs on every detach
    for (const [uri, holders] of this.#holders) {
      if (!holders.delete(peer) || holders.size > 0) continue;
      this.#holders.delete(uri); // deleting the current entry is safe while iterating a Map
      (released ??= []).push(uri);
    }
    return released ?? NONE_RELEASED;
  }

  /** Who receives an update of `uri`. */
  holders(uri: string): P[] {
    return [...(this.#holders.get(uri) ?? [])];
  }

  /** Every URI someone holds (re-subscribed after an upstream restart). */
  uris(): string[] {
    return [...this.#holders.keys()];
  }
}
