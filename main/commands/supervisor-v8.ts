import { setFlagsFromString } from 'node:v8';

/**
 * `harbor serve`'s own process only supervises: the host child serves every request, this one restarts
 * it, runs cloudflared and polls health every few seconds. Nothing here is hot enough to repay V8's
 * optimising compilers (Maglev, Turbofan), whose code is megabytes of the node binary that a process
 * touches once and keeps resident. Interpreter and baseline code only: measured 66.5 -> 61.0 MB idle
 * RSS, all of it file pages (50.1 -> 44.6 MB); anonymous memory unchanged.
 *
 * Set at run time because the user starts this process (`harbor`, `node dist/main/cli.js serve`): no
 * command line of ours to put them on. Node warns that flags changed after start may misbehave; these
 * two only stop future tier-ups. Never in container mode, where the host itself runs in this process.
 */
export function interpretOnly(): void {
  setFlagsFromString('--no-opt');
  setFlagsFromString('--no-maglev');
}

/**
 * `harbor serve --container` (or HARBOR_CONTAINER=1): the host serves in this process and keeps the
 * compilers. The same test as serve.ts's, made on the raw arguments before serve's modules load.
 */
export function runsHostInProcess(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  if (argv[0] !== 'serve') return false;
  return argv.includes('--container') || ['1', 'true'].includes(env.HARBOR_CONTAINER ?? '');
}
