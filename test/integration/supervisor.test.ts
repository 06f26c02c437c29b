import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, afterEach, before, describe, it } from 'node:test';
import { isAlive } from '../../server/supervision/process-tree.ts';
import {
  Supervisor,
  type StateEvent,
  type SupervisorOptions,
  type SupervisorState,
} from '../../server/supervision/supervisor.ts';

const fixtures = new URL('../fixtures/supervised/', import.meta.url).pathname;
const node = process.execPath;
const MiB = 1024 * 1024;

let dir = '';
const supervisors: Supervisor[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'harbor-supervisor-'));
});
afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.stop('test cleanup')));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A supervisor over a fixture script, fast settings, stopped after each test. */
function supervise(script: string, args: string[], options: Partial<SupervisorOptions> = {}): Supervisor {
  const supervisor = new Supervisor({
    name: script.replace(/\.mjs$/, ''),
    command: node,
    args: [join(fixtures, script), ...args],
    killTimeoutMs: 1_000,
    restartDelay: { initialMs: 50, factor: 2, maxMs: 1_000, resetAfterMs: 30_000 },
    ...options,
  });
  supervisors.push(supervisor);
  return supervisor;
}

/** Collects state events until `until` matches one, bounded by `timeoutMs`. */
function statesUntil(supervisor: Supervisor, until: (e: StateEvent) => boolean, timeoutMs = 15_000): Promise<StateEvent[]> {
  const seen: StateEvent[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      supervisor.off('state', onState);
      reject(new Error(`timed out; saw ${seen.map((e) => e.to).join(' → ')}`));
    }, timeoutMs);
    const onState = (event: StateEvent): void => {
      seen.push(event);
      if (!until(event)) return;
      clearTimeout(timer);
      supervisor.off('state', onState);
      resolve(seen);
    };
    supervisor.on('state', onState);
  });
}

const reaches = (state: SupervisorState) => (e: StateEvent) => e.to === state;

describe('Supervisor', { concurrency: false }, () => {
  it('restarts a crashing child with growing delays', async () => {
    const supervisor = supervise('crash.mjs', ['20', '1']);
    const waits: number[] = [];
    const crashes: StateEvent[] = [];
    const done = statesUntil(supervisor, (e) => {
      if (e.to === 'crashed') crashes.push(e);
      if (e.to === 'waiting') waits.push(e.retryInMs as number);
      return waits.length === 4 && e.to === 'starting';
    });
    supervisor.start();
    const events = await done;

    assert.deepEqual(waits, [50, 100, 200, 400]);
    assert.equal(crashes[0]?.exitCode, 1);
    assert.match(crashes[0]?.reason ?? '', /exited with code 1/);
    assert.deepEqual(
      events.slice(0, 5).map((e) => e.to),
      ['starting', 'online', 'crashed', 'waiting', 'starting'],
    );
    const info = supervisor.info();
    assert.equal(info.restarts, 4);
    assert.equal(info.lastExit?.code, 1);
    assert.match(info.lastError ?? '', /exited with code 1/);
    // Output was captured line by line, together with the supervisor's own notes.
    const tail = supervisor.log.tail();
    assert.ok(tail.some((l) => l.stream === 'stdout' && /crash fixture pid \d+ up/.test(l.line)));
    assert.ok(tail.some((l) => l.stream === 'stderr' && l.line === 'about to fail'));
    assert.ok(tail.some((l) => l.stream === 'supervisor' && /waiting: restart in 100 ms/.test(l.line)));
  });

  it('declares a crash loop errored, says why, and keeps retrying slowly', async () => {
    // The supervisor's clock stands still: every crash falls within the window however slowly the
    // machine starts the four processes (a real clock raced them against the 10 s).
    const clock = standingClock();
    const supervisor = supervise('crash.mjs', ['0', '2'], {
      now: clock.now,
      maxCrashes: 3,
      windowMs: 10_000,
      erroredRetryMs: 300,
      restartDelay: { initialMs: 10, factor: 1, maxMs: 10, resetAfterMs: 30_000 },
    });
    const errored: StateEvent[] = [];
    const done = statesUntil(supervisor, (e) => {
      if (e.to === 'errored') errored.push(e);
      return errored.length === 2;
    });
    supervisor.start();
    const events = await done;

    const first = errored[0] as StateEvent;
    assert.match(first.reason, /crash loop: 4 crashes within 10 s \(limit 3\); last: exited with code 2; retrying every 300 ms/);
    assert.equal(first.retryInMs, 300);
    assert.equal(first.exitCode, 2);
    // Exactly 4 starts before the first errored; after it, one slow retry per errored period, no fast restarts.
    const firstErrored = events.indexOf(first);
    assert.equal(events.slice(0, firstErrored).filter((e) => e.to === 'starting').length, 4);
    assert.deepEqual(
      events.slice(firstErrored + 1).map((e) => e.to),
      ['starting', 'online', 'crashed', 'errored'],
    );
    assert.equal(supervisor.state, 'errored');
    assert.match(supervisor.info().lastError ?? '', /crash loop/);
    assert.equal(supervisor.info().nextStartAt, clock.now() + 300);

    // A deliberate restart is the user acting: it clears the crash loop.
    const back = statesUntil(supervisor, reaches('waiting'));
    await supervisor.restart('operator retry');
    const afterRestart = await back;
    assert.equal(afterRestart[0]?.to, 'starting');
    assert.equal(afterRestart[0]?.reason, 'operator retry');
    assert.equal(afterRestart.at(-1)?.retryInMs, 10);
  });

  it('stays errored when the slow retry fails again, and says so', async () => {
    // Time as the crash window sees it is the test's: both quick crashes fall within 300 ms however
    // slowly the processes start, and the window has emptied by the slow retry because the clock
    // jumps past it once errored (real time raced two process starts against the 300 ms).
    const clock = standingClock();
    const supervisor = supervise('crash.mjs', ['0', '2'], {
      now: clock.now,
      maxCrashes: 1,
      windowMs: 300,
      erroredRetryMs: 400,
      restartDelay: { initialMs: 10, factor: 1, maxMs: 10, resetAfterMs: 30_000 },
    });
    const errored: StateEvent[] = [];
    const done = statesUntil(supervisor, (e) => {
      if (e.to === 'errored' && errored.push(e) === 1) clock.advance(1_000);
      return errored.length === 2;
    });
    supervisor.start();
    await done;
    assert.match(errored[0]?.reason ?? '', /^crash loop: 2 crashes within 300 ms/);
    assert.match(errored[1]?.reason ?? '', /^still failing after a crash loop; last: exited with code 2; retrying every 400 ms/);
  });

  it('forgets the backoff after a run that stayed online resetAfterMs', async () => {
    const supervisor = supervise('crash.mjs', ['300', '1'], {
      restartDelay: { initialMs: 20, factor: 3, maxMs: 1_000, resetAfterMs: 100 },
    });
    const waits: number[] = [];
    const done = statesUntil(supervisor, (e) => {
      if (e.to === 'waiting') waits.push(e.retryInMs as number);
      return waits.length === 3;
    });
    supervisor.start();
    await done;
    assert.deepEqual(waits, [20, 20, 20]);
  });

  it('restarts a leaking child on the memory limit before it grows far past it, and reports the figure', async () => {
    const limit = 150 * MiB;
    // 2 MiB steps, one per sample the watchdog takes (the fixture grows on a line on stdin): the
    // leak can outrun the watchdog by no more than its confirmation samples, however the machine
    // schedules the two processes. A leak on its own timer raced the samples against the 1.2x bound.
    const supervisor = supervise('leak.mjs', [String(2 * MiB), 'stdin'], {
      memory: { limitBytes: limit, sampleMs: 10, samples: 3 },
    });
    let maxSampled = 0;
    let restarting = false;
    supervisor.on('memory', (sample) => {
      maxSampled = Math.max(maxSampled, sample.rssBytes);
      if (!restarting) supervisor.stdin?.write('grow\n');
    });
    supervisor.on('state', (e) => {
      if (e.to === 'stopping') restarting = true;
    });
    // ~55 paced steps to the limit: a generous bound for a loaded machine.
    const done = statesUntil(supervisor, (e) => e.to === 'stopping', 45_000);
    supervisor.start();
    const stopping = (await done).at(-1) as StateEvent;

    assert.match(stopping.reason, /memory limit exceeded: RSS \d+\.\d MiB > (limit 150\.0 MiB for 3 samples in a row|1\.5× the limit of 150\.0 MiB)/);
    assert.ok((stopping.rssBytes ?? 0) > limit);
    assert.ok((stopping.rssBytes ?? 0) < 1.2 * limit, `restarted at ${stopping.rssBytes} bytes`);
    assert.ok(maxSampled < 1.2 * limit);
    assert.equal(stopping.memoryLimitBytes, limit);

    const restarted = await statesUntil(supervisor, reaches('online'));
    assert.deepEqual(restarted.map((e) => e.to), ['waiting', 'starting', 'online']);
    assert.match(restarted[0]?.reason ?? '', /restart in 50 ms after: memory limit exceeded/);
    const info = supervisor.info();
    assert.equal(info.memoryRestarts, 1);
    assert.equal(info.restarts, 1);
    assert.equal(info.memoryLimitBytes, limit);
    assert.match(info.lastError ?? '', /memory limit exceeded/);
  });

  it('stop() ends a child that ignores SIGTERM and its grandchild, after the grace period', async () => {
    const supervisor = supervise('stubborn.mjs', [], { killTimeoutMs: 500, ready: 'ipc', fork: false });
    // The fixture reports its pids over IPC; with ready 'ipc' we also get the channel. It never says 'ready', so
    // it stays 'starting' — which stop() must handle just as well as 'online'.
    const pids = once(supervisor, 'message') as Promise<[{ parent: number; grandchild: number }]>;
    supervisor.start();
    const [{ parent, grandchild }] = await pids;
    assert.ok(isAlive(parent) && isAlive(grandchild));
    assert.equal(supervisor.pid, parent);

    const started = Date.now();
    await supervisor.stop();
    const took = Date.now() - started;

    assert.equal(supervisor.state, 'stopped');
    assert.throws(() => process.kill(parent, 0), { code: 'ESRCH' });
    assertGone(grandchild);
    assert.ok(took >= 500, `stop took ${took} ms`);
    assert.ok(supervisor.log.tail().some((l) => /sent SIGKILL to the tree/.test(l.line)));
    assert.equal(supervisor.info().lastExit?.signal, 'SIGKILL');
  });

  it('ends the orphaned grandchild of a crashed child before restarting it', async () => {
    const supervisor = supervise('stubborn.mjs', ['300'], { killTimeoutMs: 300 });
    const pids = new Promise<{ parent: number; grandchild: number }>((resolve) => {
      supervisor.on('log', (e) => {
        if (e.stream === 'stdout' && e.line.startsWith('{')) resolve(JSON.parse(e.line));
      });
    });
    const waiting = statesUntil(supervisor, reaches('waiting'));
    supervisor.start();
    const { grandchild } = await pids;
    const events = await waiting;
    assert.deepEqual(events.map((e) => e.to), ['starting', 'online', 'crashed', 'waiting']);
    assertGone(grandchild);
    await supervisor.stop();
  });

  it('kills the supervised tree when its owner dies without stopping it', async () => {
    const owner = spawn(node, [join(fixtures, 'owner-dies.ts')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const [line] = (await once(createInterface({ input: owner.stdout }), 'line')) as [string];
    const { parent, grandchild } = JSON.parse(line) as { parent: number; grandchild: number };
    const [code] = await once(owner, 'exit');
    assert.equal(code, 1);
    // SIGKILL was sent as the owner exited; the kernel may take a moment to tear the processes down
    // (a bound on the wait, generous for a loaded machine: the assertions below decide).
    await untilGone([parent, grandchild], 10_000);
    assertGone(parent);
    assertGone(grandchild);
  });

  it('reports options that make spawn throw as a crash, not an exception', async () => {
    const supervisor = supervise('crash.mjs', ['bad\0arg']);
    const waiting = statesUntil(supervisor, reaches('waiting'));
    supervisor.start();
    const events = await waiting;
    assert.deepEqual(events.map((e) => e.to), ['starting', 'crashed', 'waiting']);
    assert.match(events[1]?.reason ?? '', /spawn failed: .*null bytes/);
  });

  it('becomes online on an IPC ready message; a child that never gets ready is restarted', async () => {
    const ready = supervise('ipc-ready.mjs', ['100'], { fork: true, command: join(fixtures, 'ipc-ready.mjs'), args: ['100'], ready: 'ipc' });
    const online = statesUntil(ready, reaches('online'));
    ready.start();
    const events = await online;
    assert.deepEqual(events.map((e) => e.to), ['starting', 'online']);
    assert.equal(events[1]?.reason, 'ready (IPC)');
    // The IPC channel works both ways for the owner.
    const echoed = once(ready, 'message');
    assert.equal(ready.send({ hello: 1 }), true);
    assert.deepEqual((await echoed)[0], { type: 'echo', message: { hello: 1 } });

    const never = supervise('ipc-ready.mjs', ['never'], {
      fork: true,
      command: join(fixtures, 'ipc-ready.mjs'),
      args: ['never'],
      ready: 'ipc',
      readyTimeoutMs: 300,
    });
    const restarted = statesUntil(never, (e) => e.to === 'starting' && e.from === 'waiting');
    never.start();
    const seen = await restarted;
    assert.deepEqual(seen.map((e) => e.to), ['starting', 'stopping', 'waiting', 'starting']);
    assert.equal(seen[1]?.reason, 'not ready within 300 ms');
    assert.match(seen[2]?.reason ?? '', /after: not ready within 300 ms/);
    assert.equal(never.info().lastError, 'not ready within 300 ms');
  });

  it('a readiness probe decides when the child is online', async () => {
    const supervisor = supervise('echo.mjs', [], {
      captureStdout: false,
      ready: async (child) => {
        const lines = createInterface({ input: child.stdout! });
        child.stdin!.write('ping\n');
        for await (const line of lines) if (line === 'echo: ping') break;
        lines.close();
      },
    });
    const online = statesUntil(supervisor, reaches('online'));
    supervisor.start();
    assert.equal((await online).at(-1)?.reason, 'ready (probe)');
  });

  it('leaves stdout to the owner when captureStdout is false', async () => {
    const supervisor = supervise('echo.mjs', [], { captureStdout: false });
    const spawned = once(supervisor, 'spawn');
    supervisor.start();
    await spawned;
    const lines = createInterface({ input: supervisor.stdout! });
    const received: string[] = [];
    const gotTwo = new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        received.push(line);
        if (received.length === 2) resolve();
      });
    });
    supervisor.stdin!.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    supervisor.stdin!.write('second\n');
    await gotTwo;
    assert.deepEqual(received, ['echo: {"jsonrpc":"2.0","id":1,"method":"ping"}', 'echo: second']);
    // stderr is still logged; stdout is not.
    const tail = supervisor.log.tail();
    assert.ok(tail.some((l) => l.stream === 'stderr' && /echo fixture pid/.test(l.line)));
    assert.ok(!tail.some((l) => l.stream === 'stdout'));
    lines.close();
  });

  it('writes output to a size-rotated file with at most 3 files', async () => {
    const file = join(dir, 'logs', 'chatty.log');
    const supervisor = supervise('chatty.mjs', ['3000', '100'], { log: { file, maxBytes: 64 * 1024, files: 3, tailLines: 50 } });
    let lines = 0;
    const seen: string[] = [];
    const allLines = new Promise<void>((resolve) => {
      supervisor.on('log', (e) => {
        seen.push(e.line);
        if (e.stream !== 'supervisor' && ++lines === 3000) resolve();
      });
    });
    supervisor.start();
    await allLines;
    await supervisor.log.flush();

    const names = (await readdir(join(dir, 'logs'))).sort();
    assert.deepEqual(names, ['chatty.log', 'chatty.log.1', 'chatty.log.2']);
    for (const name of names) assert.ok((await stat(join(dir, 'logs', name))).size <= 64 * 1024);
    // stdout and stderr are separate pipes, so their lines interleave in any order; the tail is the last 50 seen.
    assert.deepEqual(supervisor.log.tail().map((l) => l.line), seen.slice(-50));
    const current = await readFile(file, 'utf8');
    assert.ok(current.endsWith(`${seen.at(-1)}\n`));
    await supervisor.stop();
    await supervisor.log.close();
  });

  it('reports info and measures the RSS of the tree', async () => {
    const supervisor = supervise('stubborn.mjs', [], { memory: { sampleMs: 50 } });
    const sample = new Promise<{ pids: number[]; rssBytes: number }>((resolve) => {
      supervisor.on('memory', (s) => {
        if (s.pids.length >= 2) resolve(s);
      });
    });
    const online = statesUntil(supervisor, reaches('online'));
    supervisor.start();
    await online;
    const { pids, rssBytes } = await sample;
    assert.equal(pids[0], supervisor.pid);
    assert.ok(rssBytes > 10 * MiB, `tree RSS ${rssBytes}`);
    const info = supervisor.info();
    assert.equal(info.name, 'stubborn');
    assert.equal(info.state, 'online');
    assert.equal(info.pid, pids[0]);
    assert.ok(info.rssBytes > 0);
    assert.equal(info.memoryLimitBytes, 512 * MiB);
    assert.equal(info.restarts, 0);
    await supervisor.stop();
    assert.equal(supervisor.info().pid, null);
    for (const pid of pids) assertGone(pid);
  });

  it('reports a command that cannot be spawned as a crash', async () => {
    const supervisor = new Supervisor({
      name: 'missing',
      command: join(dir, 'no-such-binary'),
      restartDelay: { initialMs: 20, factor: 1, maxMs: 20, resetAfterMs: 30_000 },
    });
    supervisors.push(supervisor);
    const crashed = statesUntil(supervisor, reaches('waiting'));
    supervisor.start();
    const events = await crashed;
    assert.deepEqual(events.map((e) => e.to), ['starting', 'crashed', 'waiting']);
    assert.match(events[1]?.reason ?? '', /spawn failed: .*ENOENT/);
  });

  it('stop() while waiting cancels the restart; start() after stop() runs again', async () => {
    const supervisor = supervise('crash.mjs', ['0', '1'], {
      restartDelay: { initialMs: 5_000, factor: 1, maxMs: 5_000, resetAfterMs: 30_000 },
    });
    const waiting = statesUntil(supervisor, reaches('waiting'));
    supervisor.start();
    await waiting;
    await supervisor.stop();
    assert.equal(supervisor.state, 'stopped');
    assert.equal(supervisor.info().nextStartAt, null);
    const again = statesUntil(supervisor, reaches('starting'));
    supervisor.start();
    assert.equal((await again).at(-1)?.reason, 'start');
  });
});

/** A clock for the supervisor that moves only when the test says (timers stay real). */
function standingClock(start = Date.now()): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Bounded wait for pids to disappear (the assertion that follows says whether they did). */
async function untilGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

function assertGone(pid: number): void {
  // A zombie (exited, not yet reaped by its new parent) counts as gone; isAlive() knows the difference.
  try {
    process.kill(pid, 0);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ESRCH');
    return;
  }
  assert.equal(isAlive(pid), false, `pid ${pid} is still running`);
}
