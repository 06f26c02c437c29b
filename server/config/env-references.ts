/**
 * `${NAME}` references in the env values of hosted servers, resolved from the host's own
 * environment: a deployed bundle's config.json names its secrets instead of holding them, and the
 * container (or a Kubernetes Secret) supplies them. Only env values are expanded: args and commands
 * of pasted Claude Desktop entries may hold a literal `${...}` meant for the server itself.
 */
import { isHarborSecretName } from '../supervision/child-env.ts';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * The value with every reference replaced, or the names of the variables that are not set. Harbor's own
 * secrets (HARBOR_SECRET_NAMES) are never handed to a hosted server this way: a reference to one is
 * refused as if unset, so a pasted or edited config cannot put them in a server any teammate can query.
 */
export function resolveEnvReferences(value: string, env: NodeJS.ProcessEnv): { value: string; missing: string[] } {
  const missing: string[] = [];
  const resolved = value.replace(REFERENCE, (_, name: string) => {
    const found = isHarborSecretName(name) ? undefined : env[name];
    if (found === undefined) {
      missing.push(name);
      return '';
    }
    return found;
  });
  return { value: resolved, missing };
}

export function isEnvReference(value: string): boolean {
  return /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value);
}
