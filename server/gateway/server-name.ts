/**
 * What a hosted server may be called, in one place: the config schema, the admin API's "add server",
 * the CLI's `--scope` and the URL router (`/mcp/<name>`) all ask here, so a name that loads is a name
 * that routes. (The renderer's form repeats the pattern as an HTML attribute, since it loads nothing
 * from server/ at run time; test/unit/server-name.test.ts holds the two equal.)
 */

export const SERVER_NAME_MAX_LENGTH = 100;

/** The rule as a regular-expression fragment, for patterns that embed it (the URL router's). */
export const SERVER_NAME_SOURCE = `[A-Za-z0-9_.-]{1,${SERVER_NAME_MAX_LENGTH}}`;

const SERVER_NAME = new RegExp(`^${SERVER_NAME_SOURCE}$`);

/** The built-in docs server's name: taken, and not a name for a stdio server added at run time. */
export const DOCS_SERVER_NAME = 'docs';

/** The rule in words, for error messages. */
export const SERVER_NAME_RULE = `server names use letters, digits, _ . - (1 to ${SERVER_NAME_MAX_LENGTH} characters)`;

export function isServerName(name: string): boolean {
  return SERVER_NAME.test(name);
}
