/**
 * Harbor's own secrets never reach a hosted server through the config: an env reference or a replicaEnv
 * variable naming one is refused (found by the security review: `${HARBOR_STATE_SECRET}` in an env
 * value would hand the requestState key to a server any teammate can ask for its environment).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveEnvReferences } from '../../server/config/env-references.ts';
import { loadConfig } from '../../server/config/load-config.ts';
import { ReplicaEnvError, replicaEnvironments } from '../../server/gateway/replica-env.ts';
import { HARBOR_SECRET_NAMES, withoutHarborSecrets } from '../../server/supervision/child-env.ts';

const ENV = { HARBOR_STATE_SECRET: 's'.repeat(40), HARBOR_ADMIN_SECRET: 'admin', TUNNEL_TOKEN: 'tunnel', GITHUB_TOKEN: 'gh' };

test('every Harbor secret name is refused as an env reference; an ordinary variable resolves', () => {
  for (const name of HARBOR_SECRET_NAMES) {
    const resolved = resolveEnvReferences(`x-\${${name}}`, ENV);
    assert.deepEqual(resolved.missing, [name]);
    assert.equal(resolved.value.includes(ENV[name as keyof typeof ENV]), false);
  }
  assert.deepEqual(resolveEnvReferences('${GITHUB_TOKEN}', ENV), { value: 'gh', missing: [] });
});

test('a config naming HARBOR_STATE_SECRET in a server env is refused with the field path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'harbor-secret-ref-'));
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ mcpServers: { fx: { command: 'node', env: { KEY: '${HARBOR_STATE_SECRET}' } } } }));
    assert.throws(() => loadConfig(file, { docsFolder: join(dir, 'docs') }, ENV), /mcpServers\.fx\.env\.KEY/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replicaEnv reading a Harbor secret variable is refused; withoutHarborSecrets drops the state secret', () => {
  assert.throws(() => replicaEnvironments('api', { KEY: { env: 'HARBOR_STATE_SECRET' } }, 1, ENV), (error: Error) => error instanceof ReplicaEnvError && !error.message.includes(ENV.HARBOR_STATE_SECRET));
  const kept = withoutHarborSecrets(ENV);
  assert.deepEqual(Object.keys(kept), ['GITHUB_TOKEN']);
});
