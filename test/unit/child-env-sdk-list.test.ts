import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_INHERITED_ENV_VARS } from '@modelcontextprotocol/sdk/client/stdio.js';
import { MINIMAL_ENV_NAMES, SDK_INHERITED_ENV_VARS } from '../../server/supervision/child-env.ts';

test("child-env's copy of the SDK's inherited variable names matches the SDK, on both platforms", () => {
  const own = process.platform === 'win32' ? SDK_INHERITED_ENV_VARS.win32 : SDK_INHERITED_ENV_VARS.posix;
  assert.deepEqual([...own], DEFAULT_INHERITED_ENV_VARS);
  for (const name of DEFAULT_INHERITED_ENV_VARS) assert.ok(MINIMAL_ENV_NAMES.includes(name), name);
  // The other platform's list, read from the SDK's source: every quoted name in the declaration.
  const source = readFileSync(fileURLToPath(import.meta.resolve('@modelcontextprotocol/sdk/client/stdio.js')), 'utf8');
  const declaration = /export const DEFAULT_INHERITED_ENV_VARS\s*=([\s\S]*?);/.exec(source)![1]!;
  const names = new Set([...declaration.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]!));
  assert.deepEqual([...names].sort(), [...new Set([...SDK_INHERITED_ENV_VARS.win32, ...SDK_INHERITED_ENV_VARS.posix])].sort());
});
