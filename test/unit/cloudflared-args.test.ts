import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cloudflaredInvocation } from '../../main/core/tunnel/cloudflared-args.ts';

test('quick tunnel argv: tunnel flags only, metrics on loopback, origin on loopback', () => {
  const { args, env } = cloudflaredInvocation({ mode: 'quick', hostPort: 7837, metricsPort: 20241 });
  assert.deepEqual(args, ['tunnel', '--no-autoupdate', '--metrics', '127.0.0.1:20241', '--url', 'http://127.0.0.1:7837']);
  assert.deepEqual(env, {});
});

test('named tunnel argv: global flags before run, token only in TUNNEL_TOKEN', () => {
  const token = 'eyJhIjoiYWNjb3VudCJ9';
  const { args, env } = cloudflaredInvocation({ mode: 'named', token, metricsPort: 20242 });
  assert.deepEqual(args, ['tunnel', '--no-autoupdate', '--metrics', '127.0.0.1:20242', 'run']);
  assert.deepEqual(env, { TUNNEL_TOKEN: token });
  assert.ok(!args.some((arg) => arg.includes(token)), 'the token is not on the command line');
});

test('--no-autoupdate is always present and always a tunnel-level flag', () => {
  const invocations = [
    cloudflaredInvocation({ mode: 'quick', hostPort: 1, metricsPort: 65535 }),
    cloudflaredInvocation({ mode: 'named', token: 't', metricsPort: 2 }),
  ];
  for (const { args } of invocations) {
    const at = args.indexOf('--no-autoupdate');
    assert.equal(args[0], 'tunnel');
    assert.ok(at > 0, `--no-autoupdate in ${args.join(' ')}`);
    const run = args.indexOf('run');
    if (run !== -1) {
      assert.ok(at < run && args.indexOf('--metrics') < run, 'flags of `tunnel` come before `run`');
      assert.equal(run, args.length - 1);
    }
  }
});

test('bad ports and a missing token are refused before anything is spawned', () => {
  assert.throws(() => cloudflaredInvocation({ mode: 'quick', hostPort: 0, metricsPort: 20241 }), RangeError);
  assert.throws(() => cloudflaredInvocation({ mode: 'quick', hostPort: 7837, metricsPort: 70000 }), RangeError);
  assert.throws(() => cloudflaredInvocation({ mode: 'quick', hostPort: 1.5, metricsPort: 20241 }), RangeError);
  assert.throws(() => cloudflaredInvocation({ mode: 'named', token: '', metricsPort: 20241 }), /needs its token/);
});
