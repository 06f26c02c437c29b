import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from './http-errors.ts';

export class BodyTooLargeError extends Error {
  readonly limit: number;
  /** The rest of the body was read off the wire, so the client can read the 413 before any close. */
  readonly drained: boolean;
  constructor(limit: number, drained: boolean) {
    super(`request body exceeds the ${limit}-byte limit`);
    this.limit = limit;
    this.drained = drained;
  }
}

export interface DrainBounds {
  /** Bytes of an oversized body read and discarded before giving up on it (default: 4 × the limit). */
  drainBytes?: number;
  /** Time spent discarding before giving up (default 5 s: a slow sender does not hold a socket). */
  drainMs?: number;
}

const DEFAULT_DRAIN_MS = 5000;

/**
 * Reads a request body, refusing (without buffering it) anything over `limit` bytes.
 *
 * An oversized body is not cut off at once: answering while the client is still sending and then
 * closing makes the kernel reset the connection, and the reset usually destroys the 413 in the
 * client's receive buffer before it is read (the fuzz saw 1 × 413 against 131 resets). So the rest is
 * read and thrown away — bounded in bytes and time — and only then refused. A body declared larger
 * than the drain bound is refused at once (clients that send `Expect: 100-continue` never send it:
 * see host-server.ts).
 */
export function readBody(req: IncomingMessage, limit: number, bounds: DrainBounds = {}): Promise<string> {
  const drainBytes = bounds.drainBytes ?? limit * 4;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > drainBytes) return Promise.reject(new BodyTooLargeError(limit, false));
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | null = null;
    const finish = (outcome: () => void) => {
      if (timer) clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      outcome();
    };
    const tooLarge = (drained: boolean) => finish(() => reject(new BodyTooLargeError(limit, drained)));
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      if (!timer) {
        chunks = []; // from here on the bytes are only counted
        timer = setTimeout(() => tooLarge(false), bounds.drainMs ?? DEFAULT_DRAIN_MS);
      }
      if (size > limit + drainBytes) tooLarge(false);
    };
    const onEnd = () => (size > limit ? tooLarge(true) : finish(() => resolve(Buffer.concat(chunks, size).toString('utf8'))));
    const onError = (error: Error) => finish(() => reject(error));
    // The client went away mid-body: nobody will read an answer.
    const onClose = () => {
      if (!req.complete) finish(() => reject(new Error('client closed the connection during the body')));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The 413 for a BodyTooLargeError: the connection is kept when the body was drained, closed when not. */
export function sendBodyTooLarge(res: ServerResponse, error: BodyTooLargeError): void {
  sendError(res, 413, error.message, error.drained ? {} : { headers: { Connection: 'close' } });
}
