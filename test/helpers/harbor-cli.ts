/**
 * The `harbor` CLI as a person runs it (node main/cli.ts, a HARBOR_HOME in the environment), for tests
 * that drive the commands or a real `harbor serve` from outside.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, waitFor } from './harbor.ts';

export const CLI = join(ROOT, 'main/cli.ts');
const execFileP = promisify(execFile);

/** `harbor <args>` against `home`; rejects (with code, stdout, stderr) when it exits non-zero. */
export function harbor(home: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileP(process.execPath, [CLI, ...args], { env: { ...process.env, HARBOR_HOME: home }, timeout: 30_000 });
}

/** `harbor <args>` with the whole environment given; its exit code, stdout and stderr, whatever the code. */
export async function harborResult(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, ...args], { env, timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  /** The URL serve prints once its host is ready ("Harbor is serving … at <url>"); rejects if it exits first. */
  url: Promise<string>;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** `harbor serve --port 0` (and `args`) as a child process with the whole environment given. */
export function spawnServe(env: NodeJS.ProcessEnv, args: string[] = [], readyTimeoutMs = 60_000): ServeProcess {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { env });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = waitFor(
    () => {
      const printed = /Harbor is serving .* at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      if (!printed && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`harbor serve exited (${child.exitCode ?? child.signalCode}) before printing its URL: ${err}`);
      return printed;
    },
    readyTimeoutMs,
    'harbor serve to print its URL',
  );
  // A test may stop serve before it asks for the URL: that rejection is not unhandled.
  url.catch(() => {});
  return { child, url, exited, stdout: () => out, stderr: () => err };
}
