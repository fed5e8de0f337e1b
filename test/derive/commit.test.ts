/**
 * A task's commit when the local state store cannot be written after the Kafka transaction committed (a full
 * disk): the windows evicted from memory exist only in the store, so the task cannot go on. The error names the
 * task, says not to retry (a retry would send the committed outputs twice), the copy is dropped so the next start
 * rebuilds it from the changelog, and nothing was evicted. A stand-in producer records the transaction; the
 * store is the real LMDB one with writes made to fail.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { KafkaProducer } from '../../src/kafka/port.js';
import { schema } from '../../src/generated/examples.js';
import { TaskCommitter } from '../../src/derive/commit.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { emptyOutput, MetricEngine } from '../../src/derive/engine.js';
import { LmdbTaskStore } from '../../src/derive/local-store.js';
import { DerivePrometheus } from '../../src/derive/prometheus.js';
import type { Task } from '../../src/derive/task.js';
import { tumbling } from '../../src/derive/windows.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

describe('commit with --state-dir', () => {
  it('a local write that fails after the transaction committed stops the task: not retriable, the copy dropped, the task named', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'md-commit-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const store = LmdbTaskStore.open(dir, 'g');
    t.after(() => store.close());
    store.writeSync('agg-0', [], '5'); // an earlier commit's copy (its checkpoint)

    const metrics = defineMetrics(schema, [{ name: 'orders_5m', from: 'orders.v1.OrderPlaced', groupBy: ['restaurant_id'], window: tumbling('5m') }]);
    const engine = new MetricEngine(metrics, { idleMs: 0 });
    engine.attach(0, store.source('agg-0'), 1); // a cache of one window: the others may only be on disk
    for (let r = 0; r < 3; r++) engine.aggregate({ m: 'orders_5m', g: JSON.stringify([`r-${r}`]), t: T0 + r, v: 1 }, 0, 1);

    const sent: Array<{ topic: string; n: number }> = [];
    let commits = 0;
    const tx = {
      send: async ({ topic, messages }: { topic: string; messages: unknown[] }) => {
        sent.push({ topic, n: messages.length });
        return [{ topicName: topic, partition: 0, errorCode: 0, baseOffset: '7' }];
      },
      sendOffsets: async () => undefined,
      commit: async () => void commits++,
      abort: async () => undefined,
    };
    const task: Task = {
      kind: 'agg', partition: 0, producer: { transaction: async () => tx } as unknown as KafkaProducer, offsets: new Map([['g-repartition', '10']]),
      position: new Map(), out: emptyOutput(), repartition: [], dirty: true, startedAt: 0, sentJoinWatermarks: new Map(), watermarks: new Map(),
    };
    const failing = Object.assign(Object.create(store) as LmdbTaskStore, {
      writeSync: () => {
        throw new Error('MDB_MAP_FULL: Environment mapsize limit reached');
      },
    });
    const stats = { produced: 0, repartitioned: 0, commits: 0, changelogRecords: 0, changelogTombstones: 0, changelogBytes: 0, changelogMaxRecordBytes: 0, localWriteFailures: 0 };
    const committer = new TaskCommitter({
      log: pino({ level: 'silent' }), group: 'g', changelogTopics: { agg: 'g-changelog', src: 'g-src-changelog' }, engines: { agg: engine, src: undefined },
      store: failing, prometheus: new DerivePrometheus(metrics), setStage: () => undefined,
      partitions: 1, repartitionTopic: 'g-repartition', metricsTopic: 'm', alertsTopic: 'a', stats, statsd: undefined, statsdOptions: undefined,
    });

    const err = await committer.commitTask(task).then(() => undefined, (e: unknown) => e as Error & { retriable?: boolean });
    assert.ok(err, 'the commit fails');
    assert.match(err.message, /^could not write the local state store \(--state-dir\) for task agg-0: MDB_MAP_FULL.*restart to rebuild the task from its changelog$/);
    assert.equal(err.retriable, false, 'the runner must not run the committed transaction again');
    assert.equal(commits, 1, 'the transaction committed once');
    assert.deepEqual(sent.find((s) => s.topic === 'g-changelog'), { topic: 'g-changelog', n: 4 }, 'three windows and the clock went to the changelog');
    assert.equal(stats.localWriteFailures, 1);
    assert.equal(store.load('agg-0'), undefined, 'the local copy is dropped: the next start rebuilds the task from the changelog');
    assert.equal(engine.cacheStats(0).cached, 3, 'nothing was evicted: the windows are still in memory');
  });
});
