import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/**
 * A real PostgreSQL 15 for tests: Debian's binaries (`apt-get install postgresql`, which .ci/run
 * does), a cluster made by `initdb` in a temp dir, listening on 127.0.0.1 at a free port with its
 * unix socket in that dir, started with `pg_ctl -w` and removed by `stop()`.
 */
export const POSTGRES_BIN = process.env.HARBOR_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Why the PostgreSQL tests cannot run here, or null when they can. */
export function postgresMissing(): string | null {
  return existsSync(join(POSTGRES_BIN, 'initdb'))
    ? null
    : `PostgreSQL 15 binaries not found in ${POSTGRES_BIN} (apt-get install -y postgresql; .ci/run installs them)`;
}

export interface TestPostgres {
  /** postgres://… of the cluster's `postgres` database. */
  url: string;
  port: number;
  /** A fresh, empty database on the same cluster: its URL. */
  createDatabase(name: string): string;
  stop(): void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** initdb refuses to run as root: as root the cluster belongs to Debian's `postgres` user. */
function asClusterOwner(command: string, args: string[]): string[] {
  return userInfo().uid === 0 ? ['runuser', '-u', 'postgres', '--', command, ...args] : [command, ...args];
}

function run(command: string, args: string[]): void {
  const [file, ...rest] = asClusterOwner(command, args);
  const result = spawnSync(file!, rest, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${command} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`);
}

export async function startPostgres(): Promise<TestPostgres> {
  const missing = postgresMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'harbor-pg-'));
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  let started = false;
  const stop = () => {
    if (started) {
      try {
        run(join(POSTGRES_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Already gone; the folder is removed below all the same.
      }
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run(join(POSTGRES_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    // Small and quick: a test cluster needs no durability, and the machine is shared.
    const settings = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=60`;
    run(join(POSTGRES_BIN, 'pg_ctl'), ['-D', data, '-l', join(dir, 'postgres.log'), '-o', settings, '-w', '-t', '60', 'start']);
    started = true;
  } catch (error) {
    stop();
    throw error;
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      run(join(POSTGRES_BIN, 'psql'), ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE DATABASE ${name}`]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
  };
}
