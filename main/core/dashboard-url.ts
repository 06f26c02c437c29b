/**
 * The browser dashboard of a running host: `/app/` on the loopback address, with this launch's admin
 * secret in the fragment (never sent to the server in a request line, so never in an access log).
 * Loopback only: the host serves /app to local peers alone, and the secret must not leave the machine.
 */
export function dashboardUrl(port: number, adminSecret: string): string {
  return dashboardUrlAt(`http://127.0.0.1:${port}`, adminSecret);
}

/** The same link under a host's own base URL (the tray keeps the URL its host announced). */
export function dashboardUrlAt(baseUrl: string, adminSecret: string): string {
  return `${baseUrl}/app/#secret=${encodeURIComponent(adminSecret)}`;
}
