import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLoader, type Loader } from '../../src/index.js';
import { brokers, freshTopic } from '../support/kafka.js';
import { capturingLogger, tempDir } from '../support/loader.js';
import { killAndRestart, lakeCounts, leftovers } from '../support/lake-faults.js';
import { lakeEvent, lakeSchema, publishLake } from '../support/lake.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('lake faults (real broker)', () => {
  it('file system: SIGKILL 5 times at random points, restarted each time: exactly N rows, N distinct ids, no partial or overlapping file', async (t) => {
    const lake = join(tempDir(t, 'md-lake-kill-'), 'lake');
    await killAndRestart(t, { location: () => `lake:${lake}`, local: lake, sync: async () => undefined, n: 20_000 });
  });
});

describe('lake: two loader instances in one group (real broker)', () => {
  it('one stopped mid-way with its open batch abandoned (rebalance): the other takes its partitions, exactly N rows in the lake', async (t) => {
    const topic = await freshTopic(t, { partitions: 4 });
    const lake = join(tempDir(t, 'md-lake-rebalance-'), 'lake');
    const schema = await lakeSchema();
    const { logger, lines } = capturingLogger();
    const opts = {
      kafka: { brokers: brokers() }, schema, topics: [topic], topicRenames: { 'lake.v1': topic }, group: `g-${topic}`,
      warehouse: `lake:${lake}`, batchRecords: 600, flushMs: 100, dlqTopic: `${topic}.dlq`, sessionTimeoutMs: 6000, logIntervalMs: 60_000,
    };
    const a: Loader = createLoader(opts, { logger: logger.child({ instance: 'A' }) });
    const b: Loader = createLoader(opts, { logger: logger.child({ instance: 'B' }) });
    t.after(async () => {
      await a.stop({ abandon: true }).catch(() => undefined);
      await b.stop().catch(() => undefined);
    });
    void a.run().catch((err) => t.diagnostic(`A failed: ${(err as Error).message}`));
    void b.run().catch((err) => t.diagnostic(`B failed: ${(err as Error).message}`));
    const assignedTo = (who: string) => lines.filter((l) => l.instance === who && l.msg === 'partitions assigned').at(-1)?.partitions as string[] | undefined;
    let deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(assignedTo('A')?.length === 2 && assignedTo('B')?.length === 2)) await sleep(100);
    assert.equal(assignedTo('A')?.length, 2, 'A has two partitions');
    assert.equal(assignedTo('B')?.length, 2, 'B has two partitions');
    const half = 6000;
    await publishLake(schema, topic, Array.from({ length: half }, (_, i) => lakeEvent(i)));
    deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (a.stats().rowsLoaded === 0 || b.stats().rowsLoaded === 0)) await sleep(50);
    assert.ok(a.stats().rowsLoaded > 0 && b.stats().rowsLoaded > 0, `both instances loaded rows: A ${a.stats().rowsLoaded}, B ${b.stats().rowsLoaded}`);
    const more = publishLake(schema, topic, Array.from({ length: half }, (_, i) => lakeEvent(half + i)));
    await sleep(300);
    await a.stop({ abandon: true });
    await more;
    const N = 2 * half;
    const until = Date.now() + 120_000;
    let c = await lakeCounts(lake);
    while (Date.now() < until && c.rows < N) {
      await sleep(300);
      c = await lakeCounts(lake);
    }
    await sleep(1500); // a duplicate, if any, would land now
    c = await lakeCounts(lake);
    t.diagnostic(`A loaded ${a.stats().rowsLoaded}, B loaded ${b.stats().rowsLoaded}; offset conflicts A ${a.stats().offsetConflicts}, B ${b.stats().offsetConflicts}; ${c.files} files`);
    assert.deepEqual({ rows: c.rows, positions: c.positions, ids: c.ids }, { rows: N, positions: N, ids: N });
    assert.equal(a.stats().rowsLoaded + b.stats().rowsLoaded, N, 'rows committed by A and B add up to N');
    assert.equal(assignedTo('B')?.length, 4, 'B got all four partitions after A left');
    await b.stop();
    assert.deepEqual(leftovers(lake), [], 'no temporary file or write intent left');
  });
});
