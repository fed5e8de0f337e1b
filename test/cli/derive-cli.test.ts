/**
 * `multidispatch derive` configuration mistakes: each exits 2 with one line naming the flag, the definition and
 * key, or the topic and partition counts — never a stack trace or a plain error exiting 1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { brokers, freshTopic } from '../support/kafka.js';

const root = resolve(import.meta.dirname, '../..');
const cli = (args: string[]) =>
  spawnSync(process.execPath, ['bin/multidispatch.js', 'derive', '--proto', 'proto/examples', ...args], { encoding: 'utf8', env: { ...process.env, KAFKA_BROKERS: brokers().join(',') }, timeout: 60_000 });

function definitions(body: string): { file: string; cleanup: () => void } {
  // Inside the project, so that `import … from 'multidispatch'` resolves to this package.
  mkdirSync(join(root, '.tmp-derive'), { recursive: true });
  const dir = mkdtempSync(join(root, '.tmp-derive', 'cli-'));
  const file = join(dir, 'metrics.mjs');
  writeFileSync(file, `import { tumbling } from 'multidispatch';\nexport default ${body};\n`);
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const oneLine = (stderr: string) => stderr.trim().split('\n');

describe('derive CLI: configuration mistakes exit 2 with one line', () => {
  const good = `[{ name: 'orders_5m', from: 'orders.v1.OrderPlaced', groupBy: ['market'], window: tumbling('5m') }]`;

  it('non-positive or malformed numbers name the flag', (t) => {
    const d = definitions(good);
    t.after(d.cleanup);
    for (const [flags, re] of [
      [['--commit-interval-ms', '0'], /^multidispatch: --commit-interval-ms must be a positive integer, got '0'$/],
      [['--commit-interval-ms', '-5'], /^multidispatch: --commit-interval-ms must be a positive integer, got '-5'$/],
      [['--idle-ms', '1.5'], /^multidispatch: --idle-ms must be a non-negative integer, got '1.5'$/],
      [['--prometheus-port', '70000'], /^multidispatch: --prometheus-port must be an integer from 0 to 65535, got '70000'$/],
      [['--state-dir', 'st', '--state-cache-keys', '0'], /^multidispatch: --state-cache-keys must be a positive integer, got '0'$/],
      [['--state-cache-keys', '1000'], /^multidispatch: --state-cache-keys needs --state-dir/],
    ] as const) {
      const r = cli(['--definitions', d.file, ...flags]);
      assert.equal(r.status, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.deepEqual(oneLine(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr.trim(), re);
    }
  });

  it('--prometheus-host must be an address, and comes with --prometheus-port', (t) => {
    const d = definitions(good);
    t.after(d.cleanup);
    for (const [flags, re] of [
      [['--prometheus-port', '0', '--prometheus-host', '0.0.0.0:9464'], /^multidispatch: --prometheus-host must be an IP address .*, got '0\.0\.0\.0:9464'$/],
      [['--prometheus-host', '0.0.0.0'], /^multidispatch: --prometheus-host needs --prometheus-port$/],
    ] as const) {
      const r = cli(['--definitions', d.file, ...flags]);
      assert.equal(r.status, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.equal(oneLine(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr.trim(), re);
    }
  });

  it('a definitions module that does not load names the file', (t) => {
    const d = definitions(`[{ name: 'x', from: 'orders.v1.OrderPlaced' }]; import 'no-such-package-anywhere'`);
    t.after(d.cleanup);
    const r = cli(['--definitions', d.file]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(oneLine(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /^multidispatch: --definitions .*metrics\.mjs could not be loaded: .*no-such-package-anywhere/m);
  });

  it('an unknown key in a definition names the metric and the key', (t) => {
    const d = definitions(`[{ name: 'orders_5m', from: 'orders.v1.OrderPlaced', groupBy: ['market'], windw: tumbling('5m') }]`);
    t.after(d.cleanup);
    const r = cli(['--definitions', d.file]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(oneLine(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /^multidispatch: metric 'orders_5m': unknown key 'windw' \(did you mean 'window'\?\)$/m);
  });

  it('a missing input topic and a changelog made for another partition count name the topic', async (t) => {
    const d = definitions(good);
    t.after(d.cleanup);
    const missing = cli(['--definitions', d.file, '--topic-rename', 'orders.v1=no-such-topic-here']);
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /^multidispatch: topic\(s\) not found: no-such-topic-here/m);
    // A group whose changelog has 1 partition (as an older version made it) over a 3-partition input.
    const topic = await freshTopic(t, { partitions: 3 });
    const group = `cli-${topic}`;
    await freshTopicNamed(t, `${group}-changelog`, 1);
    const r = cli(['--definitions', d.file, '--topic-rename', `orders.v1=${topic}`, '--group', group]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(oneLine(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^multidispatch: ${group}-changelog has 1 partition\\(s\\) but the inputs have 3`, 'm'));
  });
});

/** A topic with a given name (freshTopic picks its own), deleted after the test. */
async function freshTopicNamed(t: { after: (fn: () => Promise<void>) => void }, topic: string, partitions: number): Promise<void> {
  const { kafka } = await import('../support/kafka.js');
  const admin = kafka('multidispatch-test-admin').admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  t.after(async () => {
    const a = kafka('multidispatch-test-admin').admin();
    await a.connect();
    await a.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await a.disconnect();
  });
}
