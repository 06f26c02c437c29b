import { HARBOR_VERSION } from '../../../server/version.ts';
import type { CarriedConfig } from './carry-config.ts';
import { fillTemplate, readTemplate } from './fill-template.ts';

export interface BundleOptions {
  carried: CarriedConfig;
  /** The host's body limit: nginx and the ingress refuse larger bodies with the same 413. */
  maxBodyBytes: number;
  port: number;
  replicas: string[];
  withTokens: boolean;
}

const UV_IMAGE = 'ghcr.io/astral-sh/uv:0.8';

function dockerfile(o: BundleOptions): string {
  const python = o.carried.needsPython;
  return fillTemplate(readTemplate('Dockerfile'), {
    HARBOR_VERSION,
    PORT: o.port,
    UV_STAGE: python ? `# uv and uvx, for the hosted servers started with them.\nFROM ${UV_IMAGE} AS uv\n` : '',
    PYTHON_RUNTIME: python
      ? [
          '# Python for the hosted servers that run with uvx/python (a config entry uses them).',
          'RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \\',
          ' && rm -rf /var/lib/apt/lists/*',
          'COPY --from=uv /uv /uvx /usr/local/bin/',
          'ENV UV_CACHE_DIR=/var/lib/harbor/.cache/uv UV_PYTHON_DOWNLOADS=never',
          '',
        ].join('\n')
      : '',
    TOKENS_COPY: o.withTokens ? '# Teammates and their hashed tokens, added to the store at start if absent (never clear tokens).\nCOPY --chown=harbor:harbor tokens.json /etc/harbor/tokens.json\n' : '',
  }, 'Dockerfile');
}

function nginxConf(o: BundleOptions): string {
  const server = (name: string) => `${name}:${o.port}`;
  const upstreams = o.replicas
    .map((name) => [
      `  upstream replica_${name.replace(/-/g, '_')} {`,
      `    server ${server(name)} max_fails=1 fail_timeout=10s;`,
      ...o.replicas.filter((other) => other !== name).map((other) => `    server ${server(other)} backup;`),
      '    keepalive 32;',
      '  }',
    ].join('\n'))
    .join('\n');
  const pool = o.replicas
    .flatMap((name) => [
      `    "~^${name}:" replica_${name.replace(/-/g, '_')};`,
      `    "~^:${name}\\." replica_${name.replace(/-/g, '_')};`,
    ])
    .join('\n');
  return fillTemplate(readTemplate('nginx.conf'), {
    REPLICA_UPSTREAMS: upstreams,
    ANY_SERVERS: o.replicas.map((name) => `    server ${server(name)} max_fails=1 fail_timeout=10s;`).join('\n'),
    POOL_MAP: pool,
    LISTEN: 80,
    MAX_BODY_BYTES: o.maxBodyBytes,
  }, 'nginx.conf');
}

function compose(o: BundleOptions): string {
  const envLines = [
    '      HARBOR_ADMIN_SECRET: ${HARBOR_ADMIN_SECRET:-}',
    ...o.carried.variables.map((v) => `      ${v.name}: \${${v.name}:?set ${v.name} in .env}`),
  ].join('\n');
  const services = o.replicas
    .map((name) => fillTemplate(readTemplate('compose-replica.yaml'), { NAME: name, PORT: o.port, ENV_LINES: envLines }, 'compose-replica.yaml'))
    .join('\n');
  return fillTemplate(readTemplate('compose.yaml'), {
    HARBOR_VERSION,
    PORT: o.port,
    HARBOR_SERVICES: services,
    NGINX_DEPENDS: o.replicas.map((name) => `      - ${name}`).join('\n'),
    REPLICA_VOLUMES: o.replicas.map((name) => `  ${name}-data:`).join('\n'),
  }, 'compose.yaml');
}

function envExample(o: BundleOptions): string {
  return [
    '# Copy to .env (beside compose.yaml) and fill in. Never commit the filled file.',
    'POSTGRES_PASSWORD=',
    '# Optional: turns on the admin API (loopback of the container only).',
    'HARBOR_ADMIN_SECRET=',
    '# Where teammates reach nginx, e.g. https://mcp.example.com (TLS in front). Needed for Sign in with Harbor;',
    '# connection URLs name it too. See README.md, "Public URL".',
    'HARBOR_PUBLIC_URL=',
    ...o.carried.variables.flatMap((v) => [`# from ${v.from}`, `${v.name}=`]),
    '',
  ].join('\n');
}

function readme(o: BundleOptions, files: string[]): string {
  return fillTemplate(readTemplate('README.md'), {
    HARBOR_VERSION,
    PORT: o.port,
    MAX_BODY_BYTES: o.maxBodyBytes,
    REPLICAS: o.replicas.join(', '),
    VARIABLES: o.carried.variables.length ? o.carried.variables.map((v) => `- \`${v.name}\`: ${v.from}`).join('\n') : '- none',
    WARNINGS: o.carried.warnings.length ? o.carried.warnings.map((w) => `- ${w}`).join('\n') : '- none',
    FILES: files.map((f) => `- \`${f}\``).join('\n'),
    TOKENS: o.withTokens
      ? '`tokens.json` holds your teammates\' names and SHA-256 token hashes (no usable token). The image copies it to `/etc/harbor/tokens.json`; each replica adds the teammates its store lacks at start, so everyone keeps the token they have. A teammate revoked in the new store stays revoked.'
      : 'This bundle carries no tokens. Run `harbor export --with-tokens` to move your teammates (their hashed tokens) over, or issue new ones on the server with `harbor token add` (with `HARBOR_DATABASE_URL` set, once the PostgreSQL store is in).',
  }, 'README.md');
}

/** Every text file of the bundle, by path relative to its folder (harbor/ and tokens.json aside). */
export function renderBundle(o: BundleOptions): Map<string, string> {
  const files = new Map<string, string>();
  files.set('Dockerfile', dockerfile(o));
  files.set('compose.yaml', compose(o));
  files.set('nginx.conf', nginxConf(o));
  files.set('config.json', JSON.stringify(o.carried.config, null, 2) + '\n');
  files.set('.env.example', envExample(o));
  files.set('.dockerignore', '.env\n.env.*\nk8s/\n');
  files.set('k8s/deployment.yaml', fillTemplate(readTemplate('k8s/deployment.yaml'), { HARBOR_VERSION, PORT: o.port }, 'k8s/deployment.yaml'));
  files.set('k8s/service.yaml', readTemplate('k8s/service.yaml'));
  files.set('k8s/ingress.yaml', fillTemplate(readTemplate('k8s/ingress.yaml'), { MAX_BODY_BYTES: o.maxBodyBytes }, 'k8s/ingress.yaml'));
  files.set('k8s/hpa.yaml', readTemplate('k8s/hpa.yaml'));
  files.set('k8s/secret.yaml', fillTemplate(readTemplate('k8s/secret.yaml'), {
    SECRET_LINES: o.carried.variables.map((v) => `  ${v.name}: ""  # ${v.from}`).join('\n'),
  }, 'k8s/secret.yaml'));
  files.set('README.md', readme(o, [...files.keys(), 'README.md', 'harbor/', ...(o.withTokens ? ['tokens.json'] : [])]));
  return files;
}
