import PQueue from 'p-queue';
import { BusyError } from './upstream-errors.ts';

/**
 * A concurrency cap with a waiting line of bounded length: p-queue's own line grows without limit,
 * which under a burst turns into unbounded memory and latency.
 */
export interface BoundedQueue {
  /**
   * Runs the task when a slot is free. Rejects at once with BusyError when the line is full, unless
   * `admitted` (a retry of work that already got in must not be dropped halfway).
   */
  run<T>(task: () => Promise<T>, options?: { priority?: number; admitted?: boolean }): Promise<T>;
  /** Whether `count` more tasks would fit in the line now. */
  hasRoomFor(count: number): boolean;
  busyError(): BusyError;
  /** Tasks waiting for a slot. */
  readonly size: number;
  /** Tasks running. */
  readonly pending: number;
  /** Drops waiting tasks (their promises never settle) and waits for running ones. */
  drain(): Promise<void>;
}

export interface BoundedQueueOptions {
  /** Used in the BusyError message, e.g. "embeddings". */
  name: string;
  concurrency: number;
  maxWaiting: number;
}

export function createBoundedQueue(options: BoundedQueueOptions): BoundedQueue {
  const queue = new PQueue({ concurrency: options.concurrency });
  const busyError = () => new BusyError(`${options.name} queue full (${options.maxWaiting} waiting)`);
  return {
    run(task, runOptions = {}) {
      if (!runOptions.admitted && queue.size >= options.maxWaiting) return Promise.reject(busyError());
      return queue.add(task, { priority: runOptions.priority ?? 0 });
    },
    hasRoomFor: (count) => queue.size + count <= options.maxWaiting,
    busyError,
    get size() {
      return queue.size;
    },
    get pending() {
      return queue.pending;
    },
    async drain() {
      queue.clear();
      await queue.onIdle();
    },
  };
}
