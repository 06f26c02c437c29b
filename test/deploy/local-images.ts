/**
 * Images the exported compose file names but this machine cannot pull (no Docker Hub here): nginx
 * and PostgreSQL 15, built from Debian's own packages on the debootstrap base, and kept between
 * runs. The PostgreSQL one takes the official image's POSTGRES_USER/PASSWORD/DB and data folder.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, MINBASE_IMAGE, SOCKET } from './docker-engine.ts';

export const NGINX_IMAGE = 'harbor-test/nginx:bookworm';
export const POSTGRES_IMAGE = 'harbor-test/postgres:15-bookworm';

const POSTGRES_ENTRYPOINT = `#!/bin/sh
# The official postgres image's contract, in short: initialise PGDATA once from POSTGRES_*, then run.
set -e
PGDATA=/var/lib/postgresql/data
BIN=/usr/lib/postgresql/15/bin
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 0700 "$PGDATA"
  printf '%s' "$POSTGRES_PASSWORD" > /tmp/pw && chown postgres /tmp/pw
  su postgres -s /bin/sh -c "$BIN/initdb -D $PGDATA -U $POSTGRES_USER --pwfile=/tmp/pw --auth=scram-sha-256 >/dev/null"
  rm /tmp/pw
  echo "CREATE DATABASE $POSTGRES_DB" | su postgres -s /bin/sh -c "$BIN/postgres --single -D $PGDATA postgres >/dev/null"
fi
exec su postgres -s /bin/sh -c "exec $BIN/postgres -D $PGDATA -c listen_addresses=\${PGLISTEN:-*} -c port=\${PGPORT:-5432}"
`;

const imageExists = (name: string) => spawnSync('docker', ['-H', SOCKET, 'image', 'inspect', name], { timeout: 10_000 }).status === 0;

function buildOnce(name: string, files: Record<string, string>): void {
  if (imageExists(name)) return;
  const context = mkdtempSync(join(tmpdir(), 'harbor-image-'));
  try {
    for (const [file, text] of Object.entries(files)) writeFileSync(join(context, file), text);
    docker(['build', '--network', 'host', '-t', name, context], { timeoutMs: 10 * 60_000 });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

export function ensureServiceImages(): void {
  const apt = (packages: string) =>
    `RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages} && rm -rf /var/lib/apt/lists/*`;
  buildOnce(NGINX_IMAGE, {
    Dockerfile: [`FROM ${MINBASE_IMAGE}`, apt('nginx-light'), 'CMD ["nginx", "-g", "daemon off;"]', ''].join('\n'),
  });
  buildOnce(POSTGRES_IMAGE, {
    Dockerfile: [
      `FROM ${MINBASE_IMAGE}`,
      apt('postgresql-15'),
      'COPY entrypoint.sh /usr/local/bin/entrypoint.sh',
      'RUN chmod 0755 /usr/local/bin/entrypoint.sh',
      'CMD ["/usr/local/bin/entrypoint.sh"]',
      '',
    ].join('\n'),
    'entrypoint.sh': POSTGRES_ENTRYPOINT,
  });
}
