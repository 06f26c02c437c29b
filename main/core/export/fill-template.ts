import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './harbor-package.ts';

/**
 * `{{NAME}}` placeholders filled from `values`. Hand-written rather than a template library: the
 * templates are config files of other tools (nginx, YAML, Dockerfile) whose own `${...}` and `$var`
 * must pass through untouched, and a placeholder left unfilled must be an error, not an empty line.
 */
export function fillTemplate(text: string, values: Record<string, string | number>, name = 'template'): string {
  return text.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`${name}: no value for {{${key}}}`);
    return String(values[key]);
  });
}

/** The text of a template in deploy/ (shipped with the package). */
export function readTemplate(relative: string): string {
  return readFileSync(join(packageRoot(), 'deploy', relative), 'utf8');
}

