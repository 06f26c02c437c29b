export type TunnelMode = 'quick' | 'named';

export type CloudflaredSpec =
  | { mode: 'quick'; /** Harbor's host port on 127.0.0.1. */ hostPort: number; metricsPort: number }
  | { mode: 'named'; /** Tunnel token from the Cloudflare dashboard. */ token: string; metricsPort: number };

export interface CloudflaredInvocation {
  args: string[];
  /** Extra environment for the child; carries the named-tunnel token. */
  env: Record<string, string>;
}

function assertPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`${name} must be a TCP port, got ${port}`);
}

/**
 * The argv for cloudflared. Always `--no-autoupdate`: a cloudflared whose stdio is piped updates
 * itself and exits with code 11. Tunnel-level flags come before `run`, because `run` is a
 * subcommand with its own flag set and rejects them. The metrics server is pinned to loopback so
 * /ready and /quicktunnel are not exposed on the LAN.
 *
 * The named-tunnel token goes in `TUNNEL_TOKEN` (cloudflared reads `--token` from that variable)
 * instead of `--token <t>`, so it is not visible in `ps` and cannot leak through a logged argv.
 */
export function cloudflaredInvocation(spec: CloudflaredSpec): CloudflaredInvocation {
  assertPort('metricsPort', spec.metricsPort);
  const global = ['tunnel', '--no-autoupdate', '--metrics', `127.0.0.1:${spec.metricsPort}`];
  if (spec.mode === 'quick') {
    assertPort('hostPort', spec.hostPort);
    return { args: [...global, '--url', `http://127.0.0.1:${spec.hostPort}`], env: {} };
  }
  if (!spec.token) throw new TypeError('a named tunnel needs its token');
  return { args: [...global, 'run'], env: { TUNNEL_TOKEN: spec.token } };
}
