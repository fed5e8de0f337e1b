import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPublisher } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { ensureStatsdExporter } from '../../src/dev/statsd-exporter.js';
import { freeTcpPorts } from '../../src/dev/net.js';
import { brokers, freshTopic } from '../support/kafka.js';
import { waitForSample } from '../support/statsd.js';
import { paymentFailed } from '../support/events.js';

describe('StatsD over a Unix datagram socket', () => {
  it('counters reach a statsd_exporter listening on a unixgram socket', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'md-uds-'));
    const socket = join(dir, 'statsd.sock');
    const [webPort] = await freeTcpPorts(1);
    const bin = await ensureStatsdExporter();
    const child = spawn(bin, [`--statsd.listen-unixgram=${socket}`, '--statsd.listen-udp=', '--statsd.listen-tcp=', `--web.listen-address=127.0.0.1:${webPort}`], { stdio: 'ignore' });
    t.after(async () => {
      child.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    });
    const metricsUrl = `http://127.0.0.1:${webPort}/metrics`;
    for (let i = 0; i < 100; i++) {
      if (await fetch(metricsUrl).then((r) => r.ok, () => false)) break;
      await sleep(100);
    }

    const topic = await freshTopic(t, { partitions: 1 });
    const publisher = createPublisher({ schema, kafka: { brokers: brokers() }, topics: { 'orders.v1': topic }, statsd: { protocol: 'uds', path: socket, prefix: 'uds_', aggregateMs: 100 } });
    t.after(() => publisher.close());
    await Promise.all(Array.from({ length: 7 }, () => publisher.publish('orders.v1.PaymentFailed', paymentFailed({ market: 'KW', retryable: false }))));
    await publisher.flush();
    const sample = await waitForSample((s) => s.name === 'uds_payment_failed' && s.labels.market === 'KW', 15_000, metricsUrl);
    assert.equal(sample.value, 7);
    assert.equal(publisher.stats().statsdErrors, 0);
  });
});
