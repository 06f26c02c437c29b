import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attributionKey, RequestAttribution, type Attribution } from '../../server/gateway/request-attribution.ts';

/** A policy with a hand-driven timer, recording its decisions about held requests. */
function policy(holdMs = 1000) {
  const timers: Array<{ run: () => void; ms: number; cancelled: boolean }> = [];
  const decided: Array<{ id: string | number; decision: Exclude<Attribution<string>, { kind: 'hold' }> }> = [];
  const attribution = new RequestAttribution<string>({
    holdMs,
    onDecided: (id, decision) => decided.push({ id, decision }),
    schedule: (run, ms) => {
      const timer = { run, ms, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
  });
  const fireTimers = () => timers.filter((t) => !t.cancelled).forEach((t) => t.run());
  return { attribution, decided, timers, fireTimers };
}

const SAMPLE = attributionKey('tools/call', { name: 'sample' });
const ECHO = attributionKey('tools/call', { name: 'echo' });

describe('request attribution', () => {
  test('keys: tools and prompts by name, resources by uri, other methods none', () => {
    assert.equal(attributionKey('tools/call', { name: 'x' }), 'tools/call:x');
    assert.equal(attributionKey('prompts/get', { name: 'p' }), 'prompts/get:p');
    assert.equal(attributionKey('resources/read', { uri: 'file:///a' }), 'resources/read:file:///a');
    assert.equal(attributionKey('tools/list', {}), null);
    assert.equal(attributionKey('tools/call', { name: 42 }), null);
  });

  test('one peer in flight: delivered at once, its tool learned interactive', () => {
    const { attribution } = policy();
    attribution.started(1, 'alice', SAMPLE);
    const decision = attribution.arrived('s1', undefined);
    assert.deepEqual(decision, { kind: 'deliver', peer: 'alice', callId: 1 });
    assert.equal(attribution.knowledge(SAMPLE!), 'interactive');
  });

  test('no call in flight: only a lone peer receives it', () => {
    const { attribution } = policy();
    assert.deepEqual(attribution.arrived('s1', 'alice'), { kind: 'deliver', peer: 'alice', callId: undefined });
    assert.equal(attribution.arrived('s2', undefined).kind, 'refuse');
  });

  test('two peers in flight: held, then delivered to the one still in flight, never to the other', () => {
    const { attribution, decided } = policy();
    attribution.started(1, 'alice', SAMPLE);
    attribution.started(2, 'bob', ECHO);
    assert.deepEqual(attribution.arrived('s1', undefined), { kind: 'hold' });
    assert.equal(attribution.heldCount, 1);
    attribution.finished(2);
    assert.deepEqual(decided, [{ id: 's1', decision: { kind: 'deliver', peer: 'alice', callId: 1 } }]);
    assert.equal(attribution.heldCount, 0);
  });

  test('a call started after the request arrived is no candidate', () => {
    const { attribution, decided } = policy();
    attribution.started(1, 'alice', SAMPLE);
    attribution.started(2, 'bob', ECHO);
    attribution.arrived('s1', undefined);
    attribution.started(3, 'carol', ECHO);
    attribution.finished(1);
    assert.deepEqual(decided, [{ id: 's1', decision: { kind: 'deliver', peer: 'bob', callId: 2 } }]);
  });

  test('the hold runs out: refused, and every candidate serialised from then on', () => {
    const { attribution, decided, fireTimers, timers } = policy(5000);
    attribution.started(3, 'alice', SAMPLE);
    attribution.started(4, 'bob', ECHO);
    attribution.arrived('s2', undefined);
    assert.equal(timers.at(-1)!.ms, 5000);
    fireTimers();
    assert.equal(decided[0]!.decision.kind, 'refuse');
    assert.match((decided[0]!.decision as { reason: string }).reason, /5s/);
    assert.equal(attribution.knowledge(ECHO!), 'interactive', 'a tool that may have asked is serialised from now on');
  });

  test('the lane: unknown and interactive keys wait for one another, quiet keys and keyless methods never', () => {
    const { attribution } = policy();
    assert.equal(attribution.mustWait(SAMPLE), false);
    attribution.started(1, 'alice', SAMPLE);
    assert.equal(attribution.mustWait(SAMPLE), true, 'unknown behind an unknown');
    assert.equal(attribution.mustWait(null), false);
    assert.equal(attribution.finished(1), true, 'the lane freed');
    assert.equal(attribution.knowledge(SAMPLE!), 'quiet', 'finished without asking');
    attribution.started(2, 'alice', ECHO);
    assert.equal(attribution.mustWait(SAMPLE), false, 'a quiet key passes the lane');
  });

  test('an unknown key passes a lane holder that waits on its caller; an interactive one does not', () => {
    const { attribution } = policy();
    attribution.started(1, 'alice', SAMPLE);
    attribution.arrived('s1', undefined);
    attribution.asked(1, 1);
    assert.equal(attribution.mustWait(ECHO), false, 'unknown: not behind a person');
    assert.equal(attribution.mustWait(SAMPLE), true, 'interactive: serialised');
    attribution.asked(1, -1);
    assert.equal(attribution.mustWait(ECHO), true);
  });

  test('withdrawn and cleared requests are forgotten, their timers cancelled', () => {
    const { attribution, timers, decided } = policy();
    attribution.started(1, 'alice', SAMPLE);
    attribution.started(2, 'bob', SAMPLE);
    attribution.arrived('s1', undefined);
    assert.equal(attribution.withdrawn('s1'), true);
    assert.equal(timers[0]!.cancelled, true);
    attribution.arrived('s2', undefined);
    attribution.clear();
    assert.equal(timers[1]!.cancelled, true);
    assert.equal(attribution.heldCount, 0);
    assert.equal(attribution.mustWait(SAMPLE), false);
    assert.deepEqual(decided, []);
  });

  test('held requests are bounded', () => {
    const attribution = new RequestAttribution<string>({ holdMs: 1000, maxHeld: 1, onDecided: () => {}, schedule: () => () => {} });
    attribution.started(1, 'alice', SAMPLE);
    attribution.started(2, 'bob', SAMPLE);
    assert.equal(attribution.arrived('s1', undefined).kind, 'hold');
    assert.equal(attribution.arrived('s2', undefined).kind, 'refuse');
  });
});
