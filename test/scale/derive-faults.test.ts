/**
 * derive at production size, with faults, on a real broker (the workload of ./orders-workload.ts: 200,000 events,
 * 20,000 restaurants, 50,000 users, 3 partitions): three instances in one group, one stopped mid-stream (its tasks
 * and their state move through the changelog). The metric values read back (read_committed) are identical to an
 * uninterrupted run's — the same engine fed every event in one process — and to a count by hand, every value once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAgainstUninterrupted, setup, startDerive, until } from './derive-harness.js';

describe('derive at production size, with faults (real broker)', () => {
  it('three instances in one group, one stopped mid-stream: identical to an uninterrupted run', { timeout: 900_000 }, async (t) => {
    const { events, metricsTopic, args, stateDir } = await setup(t);
    const instances = [0, 1, 2].map(() => startDerive(t, args(stateDir())));
    await until(() => instances.every((i) => i.assignments > 0) && instances.reduce((n, i) => n + i.commits, 0) >= 6, 240_000,
      () => `three instances committing:\n${instances.map((i) => i.log.slice(-1500)).join('\n---\n')}`);
    const [stopped, ...rest] = instances;
    stopped!.child.kill('SIGTERM');
    assert.equal(await stopped!.exited, 0, stopped!.log.slice(-3000));
    t.diagnostic(`stopped one instance after ${instances.map((i) => i.commits).join('/')} commits; its state at stop: ${JSON.stringify(stopped!.atStop)}`);
    assert.ok(stopped!.atStop && stopped!.atStop.windowsReadFromDisk > 0, 'with --state-cache-keys 500 windows were read back from the local store');
    await checkAgainstUninterrupted(metricsTopic, events);
    assert.ok(rest.some((i) => i.assignments >= 2), 'the others took its partitions over');
    for (const i of rest) i.child.kill('SIGTERM');
    for (const i of rest) assert.equal(await i.exited, 0, i.log.slice(-3000));
  });
});
