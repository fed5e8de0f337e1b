/**
 * A script that only awaits publish() must wait for the outcome. Without something holding the event loop, Node
 * ended such a script with exit code 13 (unsettled top-level await) and no error while the broker was unreachable.
 * The children import the built package (dist/), as an application would.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freeTcpPorts } from '../../src/dev/net.js';
import { brokers, freshTopic } from '../support/kafka.js';

const dist = (p: string) => new URL(`../../dist/src/${p}`, import.meta.url).href;

const script = (brokerList: string[], topic: string, deliveryTimeoutMs: number, close: boolean) => `
import { createPublisher, DeliveryTimeoutError } from '${dist('index.js')}';
import { schema } from '${dist('generated/examples.js')}';
const publisher = createPublisher({ schema, kafka: { brokers: ${JSON.stringify(brokerList)}, connectionTimeoutMs: 500 }, statsd: false,
  topics: { 'orders.v1': ${JSON.stringify(topic)} }, deliveryTimeoutMs: ${deliveryTimeoutMs}, retryBackoffMs: 50 });
try {
  const receipt = await publisher.publish('orders.v1.PaymentFailed', {
    orderId: 'pending-1', context: { userId: 'u', sessionId: 's', deviceId: 'd' }, market: 'GB', platform: 'ANDROID', method: 'CARD',
    amount: { amountMinor: 100, currency: 'GBP' }, errorCode: 'x', retryable: false, attempt: 1, failedAt: new Date(),
  });
  console.log('delivered ' + receipt.topic + ' ' + receipt.offset);
  ${close ? 'await publisher.close();' : ''}
} catch (err) {
  console.error(err.name + ': ' + err.message);
  process.exitCode = err instanceof DeliveryTimeoutError ? 42 : 43;
}
`;

function run(dir: string, name: string, source: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return (async () => {
    const file = join(dir, name);
    await writeFile(file, source);
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      // Generous: a child that hangs is a failure, not a slow pass.
      const kill = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(kill);
        resolve({ code, stdout, stderr });
      });
    });
  })();
}

describe('a pending publish holds the process', () => {
  it('awaiting a publish to an unreachable broker ends with the DeliveryTimeoutError, not exit 13', { timeout: 120_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'md-pending-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const [closedPort] = await freeTcpPorts(1);
    const r = await run(dir, 'unreachable.mjs', script([`127.0.0.1:${closedPort}`], 'orders.v1', 1500, false));
    assert.equal(r.code, 42, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, /DeliveryTimeoutError: record for topic 'orders\.v1' was not acknowledged within deliveryTimeoutMs=1500/);
    assert.equal(r.stdout, '');
  });

  it('a publish to the real broker still exits 0 after close()', { timeout: 120_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'md-pending-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const topic = await freshTopic(t, { partitions: 1 });
    const r = await run(dir, 'reachable.mjs', script(brokers(), topic, 30_000, true));
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout.trim(), `delivered ${topic} 0`);
  });
});
