/**
 * `mcpServers.<n>.replicaEnv`: per-copy values of a pooled server, e.g. `{"NOTION_TOKEN": ["k1","k2","k3"]}`
 * or `{"OPENAI_API_KEY": {"env": "OPENAI_KEYS"}}` (comma-separated in Harbor's environment, kept out of
 * config.json). Hosted servers start from a minimal environment (supervision/child-env.ts), so these
 * are passed explicitly, copy k getting value k.
 */
import { isHarborSecretName } from '../supervision/child-env.ts';

export type ReplicaEnvSource = string[] | { env: string };

export class ReplicaEnvError extends Error {}

/** One env object per copy; throws ReplicaEnvError (naming the field, never a value) when a copy would lack its own value. */
export function replicaEnvironments(
  server: string,
  replicaEnv: Record<string, ReplicaEnvSource>,
  replicas: number,
  from: NodeJS.ProcessEnv = process.env,
): Array<Record<string, string>> {
  const copies = Array.from({ length: replicas }, () => ({}) as Record<string, string>);
  for (const [name, source] of Object.entries(replicaEnv)) {
    if (!Array.isArray(source) && isHarborSecretName(source.env)) {
      throw new ReplicaEnvError(`mcpServers.${server}.replicaEnv.${name} names ${source.env}, one of Harbor's own secrets: hosted servers never get it`);
    }
    const values = Array.isArray(source) ? source : (from[source.env] ?? '').split(',').map((v) => v.trim()).filter(Boolean);
    if (values.length < replicas) {
      const where = Array.isArray(source) ? `lists ${values.length}` : `reads ${values.length} from the environment variable ${source.env}`;
      throw new ReplicaEnvError(
        `mcpServers.${server}.replicaEnv.${name} ${where} value(s) but replicas is ${replicas}: each copy needs its own`,
      );
    }
    values.slice(0, replicas).forEach((value, k) => (copies[k]![name] = value));
  }
  return copies;
}
