/**
 * The tools know their own records: what `derive` writes (multidispatch.metrics.v1.DerivedMetric to the metrics topic,
 * Alert to the alerts topic) is decoded by `tail` and loaded by `load` into typed views, with a --proto folder that
 * does not hold metrics.proto. A real DeriveRunner writes the records; tail and load run as the CLI (bin/ → dist/).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createPublisher } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { DeriveRunner } from '../../src/derive/runner.js';
import { tumbling } from '../../src/derive/windows.js';
import { DuckDbWarehouse } from '../../src/warehouse/duckdb/warehouse.js';
import { brokers, freshTopic, readAll } from '../support/kafka.js';
import { capturingLogger, tempDir } from '../support/loader.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 12, 9, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['bin/multidispatch.js', ...args], { encoding: 'utf8', env: { ...process.env, KAFKA_BROKERS: brokers().join(',') }, timeout: 120_000 });

describe("derive's records in tail and load", () => {
  it('tail decodes metric values and alerts; load --once lands them in DERIVED_METRIC and ALERT views with their values', async (t) => {
    const input = await freshTopic(t, { partitions: 1 });
    const metricsTopic = await freshTopic(t, { partitions: 1, prefix: 'metrics' });
    const alertsTopic = await freshTopic(t, { partitions: 1, prefix: 'alerts' });

    // Window 09:00: talabat 4 (fires at >= 3), careem 2; window 09:05: talabat 1 (resolves).
    const rejected = (aggregator: string, at: number, i: number) => ({ orderId: `o-${i}`, restaurantId: 'r-1', market: 'AE', aggregator, reason: 'TOO_BUSY' as const, rejectedAt: new Date(at) });
    const events = [
      rejected('talabat', T0 + 10_000, 1), rejected('careem', T0 + 20_000, 2), rejected('talabat', T0 + 30_000, 3), rejected('talabat', T0 + 2 * MIN, 4),
      rejected('careem', T0 + 3 * MIN, 5), rejected('talabat', T0 + 4 * MIN, 6), rejected('talabat', T0 + 10 * MIN - 2_000, 7), // near its window's end: the idle clock closes it soon
    ];
    const publisher = createPublisher({ schema, producer: 'metrics-records-test', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': input } });
    for (const e of events) await publisher.publish('orders.v1.OrderRejected', e);
    await publisher.close();

    const metrics = defineMetrics(schema, [{ name: 'rejections_5m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: tumbling('5m'), alert: { atLeast: 3 } }]);
    const runner = new DeriveRunner({ kafka: { brokers: brokers() }, schema, metrics, group: `derive-${input}`, topics: [input], metricsTopic, alertsTopic, idleMs: 1500, commitIntervalMs: 300, logger: capturingLogger().logger });
    t.after(() => runner.stop());
    await runner.start();
    // Wait until derive committed everything (read_committed), then stop it: tail and load read a finished topic.
    assert.equal((await readAll(metricsTopic, { count: 3, timeoutMs: 60_000, settleMs: 1000 })).length, 3);
    assert.equal((await readAll(alertsTopic, { count: 2, timeoutMs: 60_000, settleMs: 1000 })).length, 2);
    await runner.stop();

    const expectedValues = [
      { name: 'rejections_5m', aggregator: 'careem', value: 2, windowStart: T0 },
      { name: 'rejections_5m', aggregator: 'talabat', value: 4, windowStart: T0 },
      { name: 'rejections_5m', aggregator: 'talabat', value: 1, windowStart: T0 + 5 * MIN },
    ];
    const expectedAlerts = [
      { metric: 'rejections_5m', aggregator: 'talabat', state: 'FIRING', value: 4, windowStart: T0 },
      { metric: 'rejections_5m', aggregator: 'talabat', state: 'RESOLVED', value: 1, windowStart: T0 + 5 * MIN },
    ];
    const byWindow = (a: { aggregator: string; windowStart: number }, b: { aggregator: string; windowStart: number }) => a.windowStart - b.windowStart || a.aggregator.localeCompare(b.aggregator);

    // tail, with a --proto folder that knows nothing of metrics.proto.
    let r = cli(['tail', '--topic', metricsTopic, '--proto', 'proto/examples', '--from-beginning', '--max', '3']);
    assert.equal(r.status, 0, r.stderr);
    const metricLines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    for (const l of metricLines) {
      assert.equal(l.type, 'multidispatch.metrics.v1.DerivedMetric');
      assert.equal(l.error, undefined, l.error);
      assert.equal(l.event.windowEnd, iso(Date.parse(l.event.windowStart) + 5 * MIN));
      assert.equal(l.event.final, true);
      assert.match(l.headers['md-event-id'], /^[0-9a-f-]{36}$/);
      assert.equal(l.headers['md-occurred-at'], l.event.emittedAt);
      assert.equal(l.headers['md-producer'], 'multidispatch-derive');
    }
    assert.deepEqual(
      metricLines.map((l) => ({ name: l.event.name, aggregator: l.event.dimensions.aggregator, value: l.event.value, windowStart: Date.parse(l.event.windowStart) })).sort(byWindow),
      expectedValues,
    );
    r = cli(['tail', '--topic', alertsTopic, '--proto', 'proto/examples', '--from-beginning', '--max', '2']);
    assert.equal(r.status, 0, r.stderr);
    const alertLines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(alertLines.every((l) => l.type === 'multidispatch.metrics.v1.Alert' && l.error === undefined), r.stdout);
    assert.deepEqual(
      alertLines.map((l) => ({ metric: l.event.metric, aggregator: l.event.dimensions.aggregator, state: l.event.state, value: l.event.value, windowStart: Date.parse(l.event.windowStart) })).sort(byWindow),
      expectedAlerts,
    );

    // load --once: every record loaded (none dead-lettered: exit 0), typed views over both topics.
    const db = join(tempDir(t), 'metrics.duckdb');
    r = cli(['load', '--topic', `${metricsTopic},${alertsTopic}`, '--topic-rename', `multidispatch.metrics=${metricsTopic}`, '--topic-rename', `multidispatch.alerts=${alertsTopic}`,
      '--proto', 'proto/examples', '--warehouse', `duckdb:${db}`, '--group', `load-${input}`, '--once', '--log-level', 'error']);
    assert.equal(r.status, 0, `exit ${r.status} (signal ${r.signal}): ${r.stderr}`);
    assert.match(r.stdout, /^loaded 5 row\(s\) .*; 0 to the dead-letter topic, 0 tombstone\(s\) skipped\n$/);

    const w = new DuckDbWarehouse({ path: db });
    await w.connect();
    t.after(() => w.close());
    const values = await w.query(
      `SELECT NAME AS name, DIMENSIONS->>'aggregator' AS aggregator, VALUE AS value, epoch_ms(WINDOW_START) AS ws, epoch_ms(WINDOW_END) AS we, FINAL AS final,
              EVENT_ID AS id, OCCURRED_AT = EMITTED_AT AS stamped, KAFKA_OFFSET AS off FROM "DERIVED_METRIC" ORDER BY ws, aggregator`,
    );
    assert.deepEqual(
      values.map((v) => ({ name: v.name, aggregator: v.aggregator, value: v.value, windowStart: Number(v.ws) })),
      expectedValues,
    );
    for (const v of values) {
      assert.equal(Number(v.we) - Number(v.ws), 5 * MIN);
      assert.equal(v.final, true);
      assert.match(String(v.id), /^[0-9a-f-]{36}$/, 'EVENT_ID from the envelope derive writes');
      assert.equal(v.stamped, true, 'OCCURRED_AT is when derive emitted the value');
    }
    const alerts = await w.query(
      `SELECT METRIC AS metric, DIMENSIONS->>'aggregator' AS aggregator, STATE AS state, VALUE AS value, epoch_ms(WINDOW_START) AS ws FROM "ALERT" ORDER BY ws`,
    );
    assert.deepEqual(alerts.map((a) => ({ metric: a.metric, aggregator: a.aggregator, state: a.state, value: a.value, windowStart: Number(a.ws) })), expectedAlerts);
  });
});
