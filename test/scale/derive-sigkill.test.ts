/**
 * `multidispatch derive --state-dir` at production size (./orders-workload.ts) SIGKILLed 3 times at random points
 * and restarted — the state dir kept the first time, deleted the second, the tasks moved to another instance
 * (another state dir) the third — gives values identical to an uninterrupted run, nothing twice. Run by name
 * (`npm test -- --test-timeout=900000 test/scale`); about 90 s here.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readAll } from '../support/kafka.js';
import { checkAgainstUninterrupted, setup, startDerive, until } from './derive-harness.js';
import { expected } from './orders-workload.js';

describe('derive at production size, SIGKILLed (real broker)', () => {
  it('SIGKILLed 3 times at random points (state dir kept, deleted, moved): identical to an uninterrupted run, nothing twice', { timeout: 900_000 }, async (t) => {
    const { events, metricsTopic, args, stateDir } = await setup(t);
    const dirA = stateDir();
    const dirB = stateDir();
    const kills: string[] = [];
    // Each run is killed 1–3 commits with values in (an uninterrupted run makes ~10, each carrying thousands of
    // values): mid-window, mid-stream.
    const killed = async (dir: string, what: string) => {
      const inst = startDerive(t, args(dir));
      const at = 1 + Math.floor(Math.random() * 3);
      await until(() => inst.commits >= at, 240_000, () => `${at} commits (${what}):\n${inst.log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 1000)));
      inst.child.kill('SIGKILL');
      await inst.exited;
      kills.push(`${what}: killed after ${inst.commits} commits`);
      return inst;
    };
    await killed(dirA, 'first run');
    await killed(dirA, 'state dir kept');
    rmSync(dirA, { recursive: true, force: true });
    const third = await killed(dirA, 'state dir deleted');
    assert.ok(third.restores.length > 0, 'the run after the state dir was deleted restored its tasks');
    assert.ok(third.restores.every((l) => l.includes('"fromLocal":[]')), `with the state dir deleted nothing came from a local copy:\n${third.restores.join('\n')}`);
    const before = (await readAll(metricsTopic, { count: 1, timeoutMs: 30_000, settleMs: 3000 })).length;
    const total = expected(events).values;
    assert.ok(before < total, `the kills landed mid-stream: ${before} of ${total} values committed before the last run`);
    kills.push(`${before} of ${total} values committed before the last run`);
    const last = startDerive(t, args(dirB)); // the tasks moved to another instance
    t.diagnostic(kills.join('; '));
    await checkAgainstUninterrupted(metricsTopic, events);
    assert.ok(last.restores.length > 0 && last.restores.every((l) => l.includes('"fromLocal":[]')), `the other instance rebuilt its tasks from the changelog:\n${last.restores.join('\n')}`);
    last.child.kill('SIGTERM');
    assert.equal(await last.exited, 0, last.log.slice(-3000));
    t.diagnostic(`last instance, state at stop: ${JSON.stringify(last.atStop)}`);
    assert.ok(last.atStop && last.atStop.windowsReadFromDisk > 0, 'with --state-cache-keys 500 windows were read back from the local store');
  });
});
