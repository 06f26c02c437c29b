/** The waiting line in front of an upstream API is full: shed load at once instead of growing without bound. */
export class BusyError extends Error {
  readonly code = 'UPSTREAM_BUSY';
  constructor(message: string) {
    super(message);
    this.name = 'BusyError';
  }
}

/** An upstream API call that failed for good (after retries where retrying made sense). */
export class UpstreamApiError extends Error {
  /** HTTP status of the last answer, absent for network errors and timeouts. */
  readonly status: number | undefined;
  readonly attempts: number;
  constructor(message: string, options: { status?: number; attempts?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'UpstreamApiError';
    this.status = options.status;
    this.attempts = options.attempts ?? 1;
  }
}
