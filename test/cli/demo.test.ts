import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { brokers } from '../support/kafka.js';

describe('multidispatch demo', () => {
  it('publishes the ordering flow and Kafka record counts equal StatsD counter totals per event type', () => {
    const r = spawnSync(process.execPath, ['bin/multidispatch.js', 'demo', '--orders', '120', '--brokers', brokers().join(',')], { encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, `demo failed:\n${r.stderr}\n${r.stdout}`);
    const rows = [...r.stdout.matchAll(/^(orders\.v1\.\w+)\s+(\d+)\s+(\d+)$/gm)].map((m) => ({ type: m[1]!, kafka: Number(m[2]), statsd: Number(m[3]) }));
    assert.ok(rows.length >= 5, `expected a row per event type:\n${r.stdout}`);
    for (const row of rows) assert.equal(row.kafka, row.statsd, `${row.type}: Kafka ${row.kafka} vs StatsD ${row.statsd}`);
    assert.equal(rows.find((x) => x.type === 'orders.v1.OrderPlaced')?.kafka, 120, 'one OrderPlaced per order');
    const published = Number(/published (\d+) events/.exec(r.stdout)?.[1]);
    assert.equal(rows.reduce((s, x) => s + x.kafka, 0), published);
    assert.match(r.stdout, /Kafka and StatsD agree for every event type\./);
  });

  it('a bad --orders is a usage error', () => {
    const r = spawnSync(process.execPath, ['bin/multidispatch.js', 'demo', '--orders', 'many'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--orders must be a positive integer/);
  });
});
