/**
 * The derive consumer's Prometheus endpoint against a real broker, scraped the way a Prometheus server and a
 * kubelet would (always through loopback here): bound to 0.0.0.0, /healthz and /readyz, counters named `_total`,
 * and a group that stops getting events removed once a whole window has closed without it. Stream time follows
 * the event times only (idleMs 0), so nothing here depends on how long a step takes.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createPublisher } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { DeriveRunner } from '../../src/derive/runner.js';
import { tumbling } from '../../src/derive/windows.js';
import { brokers, freshTopic, readAll } from '../support/kafka.js';
import { capturingLogger } from '../support/loader.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const metrics = defineMetrics(schema, [{ name: 'rejections_1m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: tumbling('1m'), alert: { atLeast: 1 } }]);

async function publish(topic: string, events: Array<{ aggregator: string; t: number }>): Promise<void> {
  const p = createPublisher({ schema, producer: 'derive-prometheus-test', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
  for (const [i, e] of events.entries()) {
    await p.publish('orders.v1.OrderRejected', { orderId: `o-${e.t}-${i}`, restaurantId: 'r-1', market: 'AE', aggregator: e.aggregator, reason: 'TOO_BUSY', rejectedAt: new Date(e.t) });
  }
  await p.close();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function get(runner: DeriveRunner, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${runner.prometheusPort}${path}`);
  return { status: res.status, text: await res.text() };
}

/** Polls until `ok(text of /metrics)`; fails with the last scrape after 60 s. */
async function scrapeUntil(runner: DeriveRunner, what: string, ok: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { text } = await get(runner, '/metrics');
    if (ok(text)) return text;
    assert.ok(Date.now() < deadline, `${what}; last scrape:\n${text}`);
    await sleep(100);
  }
}

const sample = (text: string, aggregator: string): number | undefined => {
  const m = new RegExp(`^rejections_1m\\{aggregator="${aggregator}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

/**
 * Starts the runner while asking /readyz every 20 ms from the moment the endpoint listens, until it first answers
 * 200; each answer is kept with the changelog records restored so far at that moment.
 */
async function startWatchingReadiness(runner: DeriveRunner): Promise<Array<{ status: number; text: string; restoredRecords: number }>> {
  const answers: Array<{ status: number; text: string; restoredRecords: number }> = [];
  let started = false;
  const watching = (async () => {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (runner.prometheusPort !== undefined) {
        const r = await get(runner, '/readyz');
        answers.push({ ...r, restoredRecords: runner.stats.restoredRecords });
        if (r.status === 200) return;
      } else if (started) throw new Error('start() resolved without a Prometheus port');
      await sleep(20);
    }
    throw new Error(`/readyz never answered 200: ${JSON.stringify(answers.slice(-3))}`);
  })();
  await runner.start();
  started = true;
  await watching;
  return answers;
}

function assertNotReadyThenReady(answers: Array<{ status: number; text: string }>): void {
  const first = answers.findIndex((a) => a.status === 200);
  assert.ok(first > 0, `a not-ready answer came before the first ready one: ${JSON.stringify(answers.slice(0, 5))}`);
  for (const a of answers.slice(0, first)) {
    assert.equal(a.status, 503);
    assert.match(a.text, /^(starting: .+|rebalancing|no partitions assigned|restoring \d+ task\(s\))\n$/);
  }
  assert.equal(answers[first]!.text, 'ok\n');
}

async function outputs(t: TestContext) {
  return { metricsTopic: await freshTopic(t, { partitions: 1, prefix: 'metrics' }), alertsTopic: await freshTopic(t, { partitions: 1, prefix: 'alerts' }) };
}

describe('derive Prometheus endpoint (real broker)', () => {
  it('bound to 0.0.0.0: /healthz, /readyz only once restored, counters named _total, a group without windows removed', async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const { metricsTopic, alertsTopic } = await outputs(t);
    const group = `derive-${topic}`;
    const options = { kafka: { brokers: brokers() }, schema, metrics, group, topics: [topic], metricsTopic, alertsTopic, idleMs: 0, commitIntervalMs: 300, prometheusPort: 0 };

    // Window [T0, T0+1m): talabat 1, careem 1; deliveroo at T0+61s moves stream time past its end.
    await publish(topic, [{ aggregator: 'talabat', t: T0 + 1000 }, { aggregator: 'careem', t: T0 + 2000 }, { aggregator: 'deliveroo', t: T0 + 61_000 }]);
    const { logger, lines } = capturingLogger();
    const runner = new DeriveRunner({ ...options, prometheusHost: '0.0.0.0', logger });
    t.after(() => runner.stop());
    assertNotReadyThenReady(await startWatchingReadiness(runner));
    assert.equal(runner.prometheusUrl, `http://0.0.0.0:${runner.prometheusPort}`);
    assert.ok(lines.some((l) => l.metrics === `http://0.0.0.0:${runner.prometheusPort}/metrics`), 'the bound URL is logged');
    assert.deepEqual(await get(runner, '/healthz'), { status: 200, text: 'ok\n' });
    const notFound = await get(runner, '/other');
    assert.equal(notFound.status, 404);
    assert.match(notFound.text, /\/metrics.*\/healthz.*\/readyz/);

    await readAll(metricsTopic, { count: 2, timeoutMs: 60_000 });
    let text = await scrapeUntil(runner, 'the first window of talabat and careem', (x) => sample(x, 'talabat') !== undefined && sample(x, 'careem') !== undefined);
    assert.equal(sample(text, 'talabat'), 1);
    assert.equal(sample(text, 'careem'), 1);

    // Counters end in _total, gauges do not; the late-event and missing-join counts are counters.
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
    for (const { name, type } of types) {
      if (type === 'counter') assert.match(name, /_total$/, `counter ${name}`);
      else assert.doesNotMatch(name, /_total$/, `${type} ${name} is named like a counter`);
    }
    for (const name of ['consumed_records', 'produced_records', 'late_events_dropped', 'missing_joins', 'rebalances', 'restored_records', 'restore_seconds']) {
      assert.ok(types.some((x) => x.name === `multidispatch_derive_${name}_total` && x.type === 'counter'), `multidispatch_derive_${name}_total is a counter`);
    }
    assert.match(text, /^multidispatch_derive_late_events_dropped_total\{metric="rejections_1m"\} 0$/m);

    // A late event (its only window closed at T0+1m) is counted once.
    await publish(topic, [{ aggregator: 'talabat', t: T0 + 5000 }]);
    await scrapeUntil(runner, 'the late event counted', (x) => /^multidispatch_derive_late_events_dropped_total\{metric="rejections_1m"\} 1$/m.test(x));

    // careem goes on into [T0+2m, T0+3m), closed by its event at T0+3m+1s; talabat (last window ended T0+1m) and
    // deliveroo (T0+2m) have had a whole window close without them: their label sets go.
    await publish(topic, [{ aggregator: 'careem', t: T0 + 2 * MIN + 1000 }, { aggregator: 'careem', t: T0 + 3 * MIN + 1000 }]);
    await readAll(metricsTopic, { count: 4, timeoutMs: 60_000 }); // + deliveroo [1m, 2m), careem [2m, 3m)
    text = await scrapeUntil(runner, 'talabat and deliveroo removed', (x) => sample(x, 'talabat') === undefined && sample(x, 'deliveroo') === undefined);
    assert.equal(sample(text, 'careem'), 1);
    // Every window had an event, so the alert fired for each group and none resolved.
    const firing = /^multidispatch_derive_alerts_firing\{metric="rejections_1m"\} 3$/m;
    assert.match(text, firing);

    await runner.stop();
    assert.deepEqual(runner.health(), { ok: false, reason: 'stopping' });
    assert.deepEqual(runner.readiness(), { ok: false, reason: 'stopping' });

    // The same group again (default host): ready only once its state is read back from the changelog.
    const again = new DeriveRunner({ ...options, logger: capturingLogger().logger });
    t.after(() => again.stop());
    const answers = await startWatchingReadiness(again);
    assertNotReadyThenReady(answers);
    assert.equal(again.prometheusUrl, `http://127.0.0.1:${again.prometheusPort}`);
    assert.ok(answers.at(-1)!.restoredRecords > 0, `ready after the restore (${answers.at(-1)!.restoredRecords} changelog records read when it said ready)`);
    assert.deepEqual(await get(again, '/healthz'), { status: 200, text: 'ok\n' });
    await scrapeUntil(again, 'the alert states read back from the changelog', (x) => firing.test(x));
  });
});
