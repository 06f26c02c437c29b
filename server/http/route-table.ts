import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from './http-errors.ts';

/**
 * The host's route table: routes tried in order, the first whose path matcher reads the path answers;
 * a route's guards run before its handler (each passes on what it learnt, or answers with a refusal);
 * a route answers the methods it has and a 405 naming them (`Allow`) for any other.
 *
 * Hand-written, not express's Router (installed through the SDK): the server endpoints' matcher is
 * `parseServerPath`, which picks between the two URL forms by which server is hosted, something path
 * patterns cannot say; Router answers no 405 (a wrong method falls through to a 404); and it would load
 * express into a host that otherwise loads it only for Sign in with Harbor (7-8 MB of RSS). Cost per
 * request, same guards, no sockets (bench/route-dispatch.ts, a shared 2-core machine): the table adds
 * about 0.2 µs to the steps called inline, Router about 1.75 µs (2.3x the table's total); at the
 * echo bench's ~5800 requests/s that is 0.1 % against 1 % of a core, so cost alone would not decide.
 * Handlers keep the raw `res`: SSE streams write to it.
 */

export type Answer = void | Promise<void>;

/** Answers a request, given what the path and the guards before it established. */
export type Handler<In> = (req: IncomingMessage, res: ServerResponse, input: In) => Answer;

/** One step before a handler: what it learnt about the request, or null when it answered (a refusal). */
export type Guard<In, Out> = (req: IncomingMessage, res: ServerResponse, input: In) => Out | null | Promise<Out | null>;

/** Reads a route's path; null: the path is another route's. */
export type PathMatcher<In, Out> = (input: In, req: IncomingMessage) => Out | null;

/** An entry of the table: answers the request, or returns false when the path is not its own. */
export type Route<In> = (req: IncomingMessage, res: ServerResponse, input: In) => Answer | false;

export function route<In, Out>(match: PathMatcher<In, Out>, answer: Handler<Out>): Route<In> {
  return (req, res, input) => {
    const matched = match(input, req);
    return matched === null ? false : answer(req, res, matched);
  };
}

/** An exact path (what the matcher passes on is the table's input itself). */
export function exactPath<In extends { path: string }>(path: string): PathMatcher<In, In> {
  return (input) => (input.path === path ? input : null);
}

/** `prefix` itself and everything under `prefix/`. */
export function pathUnder<In extends { path: string }>(prefix: string): PathMatcher<In, In> {
  const under = `${prefix}/`;
  return (input) => (input.path === prefix || input.path.startsWith(under) ? input : null);
}

/** A path a regular expression reads; its groups are passed on raw (still percent-encoded) as `params`. */
export function patternPath<In extends { path: string }>(pattern: RegExp): PathMatcher<In, In & { params: string[] }> {
  return (input) => {
    const match = pattern.exec(input.path);
    return match ? { ...input, params: match.slice(1) } : null;
  };
}

/**
 * Routes from `[method, pattern, handler]` rows (the admin API's form): one route a pattern, the rows
 * of one pattern its methods in row order. Patterns are told apart by their source, so two different
 * patterns that read one path are two routes, and the first answers the 405 alone.
 */
export function patternRoutes<In extends { path: string }>(rows: ReadonlyArray<readonly [string, RegExp, Handler<In & { params: string[] }>]>): Array<Route<In>> {
  const byPattern = new Map<string, { pattern: RegExp; methods: Record<string, Handler<In & { params: string[] }>> }>();
  for (const [method, pattern, handler] of rows) {
    const entry = byPattern.get(pattern.source) ?? { pattern, methods: {} };
    entry.methods[method] = handler;
    byPattern.set(pattern.source, entry);
  }
  return [...byPattern.values()].map(({ pattern, methods }) => route(patternPath<In>(pattern), byMethod(methods)));
}

/** The routes in order, then `unmatched` (a 404) when none reads the path. */
export function routeTable<In>(routes: ReadonlyArray<Route<In>>, unmatched: Handler<In>): Handler<In> {
  return (req, res, input) => {
    for (const entry of routes) {
      const answered = entry(req, res, input);
      if (answered !== false) return answered;
    }
    return unmatched(req, res, input);
  };
}

/** The handler of the request's method; another method is a 405 with `Allow` listing these, in this order. */
export function byMethod<In>(methods: Readonly<Record<string, Handler<In>>>): Handler<In> {
  const handlers = new Map(Object.entries(methods));
  const allow = [...handlers.keys()].join(', ');
  return (req, res, input) => {
    const handler = handlers.get(req.method ?? '');
    if (handler) return handler(req, res, input);
    sendError(res, 405, `Method ${req.method} not allowed`, { headers: { Allow: allow } });
  };
}

/** Guards in order, then the handler; the types chain, so a guard can only read what the one before it passed on. */
export function guarded<A, B>(guards: [Guard<A, B>], handler: Handler<B>): Handler<A>;
export function guarded<A, B, C>(guards: [Guard<A, B>, Guard<B, C>], handler: Handler<C>): Handler<A>;
export function guarded<A, B, C, D>(guards: [Guard<A, B>, Guard<B, C>, Guard<C, D>], handler: Handler<D>): Handler<A>;
export function guarded<A, B, C, D, E>(guards: [Guard<A, B>, Guard<B, C>, Guard<C, D>, Guard<D, E>], handler: Handler<E>): Handler<A>;
export function guarded<A, B, C, D, E, F>(guards: [Guard<A, B>, Guard<B, C>, Guard<C, D>, Guard<D, E>, Guard<E, F>], handler: Handler<F>): Handler<A>;
export function guarded(guards: Array<Guard<unknown, unknown>>, handler: Handler<unknown>): Handler<unknown> {
  return (req, res, input) => {
    // Synchronous while the guards are (most are): no promise, no microtask on the hot path. A guard's
    // throw reaches the caller as the handler's would (host-server.ts answers both with a 500).
    const from = (start: number, value: unknown): Answer => {
      for (let i = start; i < guards.length; i++) {
        const passed = guards[i]!(req, res, value);
        if (passed instanceof Promise) return passed.then((next) => (next === null ? undefined : from(i + 1, next)));
        if (passed === null) return;
        value = passed;
      }
      return handler(req, res, value);
    };
    return from(0, input);
  };
}
