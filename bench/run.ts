/**
 * `npm run bench [-- <name> [options]]`: runs one benchmark in its own Node process, so each parses
 * its own options and starts from a clean heap. Names: echo (default), eras (echo in both protocol eras), alloc
 * (what an echo call allocates in each era, alloc-per-call.ts), instructions (an era's instructions per call under
 * callgrind, instructions-per-call.ts), cache, replicas, rate-limit, footprint.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHES: Record<string, string> = {
  echo: 'echo.ts',
  eras: 'echo-eras.ts',
  alloc: 'alloc-per-call.ts',
  instructions: 'instructions-per-call.ts',
  cache: 'cache.ts',
  replicas: 'replicas.ts',
  'rate-limit': 'rate-limit.ts',
  footprint: 'footprint.ts',
};

const [first, ...rest] = process.argv.slice(2);
const named = first !== undefined && !first.startsWith('-');
const name = named ? first : 'echo';
const options = named ? rest : process.argv.slice(2);
const file = BENCHES[name];
if (!file) {
  console.error(`unknown benchmark "${name}"; expected one of: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}

// Harbor is measured as users run it: the built JavaScript (dist/), rebuilt now so it is never stale.
if (name === 'echo' || name === 'eras' || name === 'alloc' || name === 'instructions' || name === 'replicas' || name === 'footprint') {
  const built = spawnSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', fileURLToPath(new URL('../tsconfig.json', import.meta.url))], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const child = spawn(process.execPath, [fileURLToPath(new URL(file, import.meta.url)), ...options], { stdio: 'inherit' });
// The benchmark ends its own children; pass an interrupt on so it can.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
