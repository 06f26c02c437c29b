/**
 * A request the services refuse because of what it asked (a scope naming no server, a paging time
 * that is not a time): 400 with its message at the admin API (which honours an error's `status`),
 * a usage error at the CLI.
 */
export class ServiceInputError extends Error {
  override readonly name = 'ServiceInputError';
  readonly status = 400;
}
