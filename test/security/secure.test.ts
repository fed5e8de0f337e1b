/**
 * Against the secured suite broker (SASL_SSL, SCRAM-SHA-512, ACLs enforced): each role (publisher, loader, derive,
 * tail) works with exactly the ACLs docs/operations.md lists for it; a wrong password, an untrusted CA and a missing
 * ACL each give the typed error and exit code; and no output of any run contains a password.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Admin } from 'kafkajs';
import { createPublisher, KafkaAuthenticationError, KafkaAuthorizationError, resolveKafkaConfig } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { orderPlaced } from '../support/events.js';
import { randomSuffix } from '../support/kafka.js';
import { adminKafka, grant, secureBroker, type SecureBroker } from '../support/secure.js';

const root = resolve(import.meta.dirname, '../..');
const TIMEOUT_MS = 90_000;
/** Every byte any CLI run or library call of this file printed or threw, scanned for passwords at the end. */
const transcript: string[] = [];

function cli(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, ['bin/multidispatch.js', ...args], {
    encoding: 'utf8', timeout: TIMEOUT_MS, env: { ...process.env, KAFKA_BROKERS: '', ...env },
  });
  transcript.push(r.stdout, r.stderr);
  return r;
}
/** stderr without JSON log lines: what a person reads. */
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() && !l.startsWith('{'));

describe('secured cluster: SCRAM over TLS, least-privilege ACLs, typed errors', () => {
  let b: SecureBroker;
  let admin: Admin;
  const id = randomSuffix();
  const topic = `sec-${id}.orders`;
  const other = `sec-${id}.other`;
  const dlq = `sec-${id}.dlq`;
  const metrics = `sec-${id}.metrics`;
  const alerts = `sec-${id}.alerts`;
  const loadGroup = `sec-${id}-load`;
  const deriveGroup = `sec-${id}-derive`;
  /** A derive group whose principal has every ACL but the transactional ids. */
  const noTxGroup = `sec-${id}-notx`;
  const dir = mkdtempSync(join(root, '.tmp-secure-'));
  const EVENTS = 20;
  /** Records on the topic: EVENTS at 11:59 and the 12:10 ones that close their window. */
  let total = EVENTS;

  before(async () => {
    b = secureBroker();
    admin = adminKafka(b).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [topic, other, dlq, metrics, alerts].map((t) => ({ topic: t, numPartitions: t === topic ? 3 : 1 })) });
    // The ACLs of docs/operations.md, role by role.
    await grant(admin, 'publisher', [{ topic, ops: ['WRITE'] }]);
    await grant(admin, 'loader', [{ topic, ops: ['READ'] }, { group: loadGroup, ops: ['READ'] }, { topic: dlq, ops: ['WRITE'] }]);
    await grant(admin, 'deriver', [
      { topic, ops: ['READ'] }, { topic: metrics, ops: ['WRITE'] }, { topic: alerts, ops: ['WRITE'] },
      { topic: `${deriveGroup}-`, prefixed: true, ops: ['ALL'] }, { group: deriveGroup, ops: ['READ'] }, { group: `${deriveGroup}-`, prefixed: true, ops: ['READ'] },
      { transactionalId: `${deriveGroup}-`, prefixed: true, ops: ['WRITE', 'DESCRIBE'] },
    ]);
    await grant(admin, 'deriver', [{ topic: `${noTxGroup}-`, prefixed: true, ops: ['ALL'] }, { group: noTxGroup, ops: ['READ'] }, { group: `${noTxGroup}-`, prefixed: true, ops: ['READ'] }]);
    await grant(admin, 'tailer', [{ topic, ops: ['READ'] }, { group: 'multidispatch-tail-', prefixed: true, ops: ['READ'] }]);
    mkdirSync(dir, { recursive: true });
  });

  after(async () => {
    const internal = [deriveGroup, noTxGroup].flatMap((g) => [`${g}-changelog`, `${g}-repartition`]);
    await admin.deleteTopics({ topics: [topic, other, dlq, metrics, alerts, ...internal] }).catch(() => undefined);
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the publisher role writes with WRITE on its topic only; another topic is a KafkaAuthorizationError naming it', async () => {
    const kafka = resolveKafkaConfig({ file: b.properties.publisher!, env: {} });
    assert.equal(kafka.sasl?.mechanism, 'scram-sha-512');
    const publisher = createPublisher({ schema, producer: 'secure-test', kafka, statsd: false, topics: { 'orders.v1': topic } });
    try {
      const receipts = await Promise.all(
        Array.from({ length: EVENTS }, (_, i) => publisher.publish('orders.v1.OrderPlaced', orderPlaced({ market: i % 2 ? 'GB' : 'FR' }))),
      );
      assert.equal(receipts.length, EVENTS);
      // Events ten minutes later on every partition: stream time passes 12:00 everywhere, closing the 11:55 window.
      const seen = new Set<number>();
      while (seen.size < 3) {
        const receipt = await publisher.publish('orders.v1.OrderPlaced', orderPlaced({ market: 'IT', placedAt: new Date(Date.UTC(2026, 10, 23, 12, 10)) }));
        seen.add(receipt.partition);
        total++;
      }
    } finally {
      await publisher.close();
    }
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.equal(offsets.reduce((s, p) => s + Number(p.high), 0), total);

    const denied = createPublisher({ schema, producer: 'secure-test', kafka, statsd: false, topics: { 'orders.v1': other }, deliveryTimeoutMs: 60_000 });
    try {
      const err = await denied.publish('orders.v1.OrderPlaced', orderPlaced()).then(() => undefined, (e: unknown) => e);
      transcript.push(String((err as Error)?.message), String((err as Error)?.stack));
      assert.ok(err instanceof KafkaAuthorizationError, `expected KafkaAuthorizationError, got ${String(err)}`);
      assert.equal(err.resourceType, 'topic');
      assert.equal(err.resource, other);
    } finally {
      await denied.close();
    }
  });

  it('a wrong password fails publish() with KafkaAuthenticationError and never prints the password', async () => {
    const kafka = resolveKafkaConfig({ file: b.properties.publisher!, overrides: ['sasl.password=not-the-password-42'], env: {} });
    const publisher = createPublisher({ schema, producer: 'secure-test', kafka, statsd: false, topics: { 'orders.v1': topic }, deliveryTimeoutMs: 60_000 });
    try {
      const err = await publisher.publish('orders.v1.OrderPlaced', orderPlaced()).then(() => undefined, (e: unknown) => e);
      transcript.push(String((err as Error)?.message), String((err as Error)?.stack));
      assert.ok(err instanceof KafkaAuthenticationError, `expected KafkaAuthenticationError, got ${String(err)}`);
      assert.doesNotMatch((err as Error).message, /not-the-password-42/);
    } finally {
      await publisher.close();
    }
  });

  it('load as the loader role: READ on the topic and group, WRITE on the dead-letter topic', () => {
    const warehouse = `duckdb:${join(dir, 'w.duckdb')}`;
    const r = cli(['load', '--once', '--proto', 'proto/examples', '--topic', topic, '--topic-rename', `orders.v1=${topic}`, '--group', loadGroup,
      '--dlq-topic', dlq, '--warehouse', warehouse, '--kafka-config', b.properties.loader!, '--no-progress']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^loaded ${total} row\\(s\\)`, 'm'));
  });

  it('load with a group it has no ACL for exits 4 naming the group', () => {
    const group = `sec-${id}-nogroup`;
    const r = cli(['load', '--once', '--proto', 'proto/examples', '--topic', topic, '--topic-rename', `orders.v1=${topic}`, '--group', group,
      '--dlq-topic', dlq, '--warehouse', `duckdb:${join(dir, 'w2.duckdb')}`, '--kafka-config', b.properties.loader!]);
    assert.equal(r.status, 4, r.stderr);
    const lines = errorLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^multidispatch: not authorized: READ on group '${group}' is denied to this principal \\(.*see docs/operations\\.md\\)$`));
  });

  it('tail as the tailer role reads every record; without READ on the topic it exits 4 naming the topic', () => {
    const r = cli(['tail', '--proto', 'proto/examples', '--topic', topic, '--from-beginning', '--max', String(total), '--kafka-config', b.properties.tailer!]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; event: { market: string } });
    assert.equal(lines.length, total);
    assert.ok(lines.every((l) => l.type === 'orders.v1.OrderPlaced'));
    const denied = cli(['tail', '--proto', 'proto/examples', '--topic', other, '--from-beginning', '--max', '1', '--kafka-config', b.properties.tailer!]);
    assert.equal(denied.status, 4, denied.stderr);
    assert.match(denied.stderr, new RegExp(`^multidispatch: not authorized: DESCRIBE and READ on topic '${other.replace(/\./g, '\\.')}'`, 'm'));
  });

  it('derive as the deriver role: windows computed, committed and written to its metrics topic', async () => {
    const defs = join(dir, 'metrics.mjs');
    writeFileSync(defs, `import { tumbling } from 'multidispatch';\nexport default [{ name: 'orders_5m', from: 'orders.v1.OrderPlaced', groupBy: ['market'], window: tumbling('5m') }];\n`);
    const child = spawn(process.execPath, ['bin/multidispatch.js', 'derive', '--definitions', defs, '--proto', 'proto/examples', '--group', deriveGroup,
      '--topic-rename', `orders.v1=${topic}`, '--metrics-topic', metrics, '--alerts-topic', alerts, '--commit-interval-ms', '200', '--idle-ms', '1000',
      '--kafka-config', b.properties.deriver!], { env: { ...process.env, KAFKA_BROKERS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    try {
      // The 11:55 window closes when the 12:10 event arrives: two values (FR, GB) in the metrics topic.
      const deadline = Date.now() + 60_000;
      let high = 0;
      while (Date.now() < deadline) {
        high = (await admin.fetchTopicOffsets(metrics)).reduce((s, p) => s + Number(p.high), 0);
        if (high >= 2) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.ok(high >= 2, `no metric values reached ${metrics} within 60 s; derive output:\n${out}`);
    } finally {
      child.kill('SIGTERM');
      const code = await exited;
      transcript.push(out);
      assert.equal(code, 0, out);
    }
    const r = cli(['tail', '--topic', metrics, '--from-beginning', '--max', '2', '--proto', 'proto/examples', '--kafka-config', b.properties.admin!]);
    assert.equal(r.status, 0, r.stderr);
    const values = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event?: { metric: string; value: number; dimensions: Record<string, string> } });
    // When tail knows the metrics schema, check the values by hand: 10 FR and 10 GB orders in the 11:55 window.
    if (values.every((v) => v.event)) {
      const byMarket = Object.fromEntries(values.map((v) => [v.event!.dimensions.market, v.event!.value]));
      assert.deepEqual(byMarket, { FR: 10, GB: 10 });
    }
  });

  it('derive without the transactional-id ACL exits 4 naming the transactional id', () => {
    const defs = join(dir, 'metrics.mjs');
    const r = cli(['derive', '--definitions', defs, '--proto', 'proto/examples', '--group', noTxGroup, '--topic-rename', `orders.v1=${topic}`,
      '--metrics-topic', metrics, '--alerts-topic', alerts, '--idle-ms', '1000', '--kafka-config', b.properties.deriver!]);
    assert.equal(r.status, 4, r.stderr);
    const lines = errorLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^multidispatch: not authorized: WRITE and DESCRIBE on transactional id '${noTxGroup}-\\*' is denied`));
  });

  it('a wrong password exits 4 for load, derive and tail with one line, and the password is printed nowhere', () => {
    const wrong = ['-X', 'sasl.password=wrong-password-123'];
    const defs = join(dir, 'metrics.mjs');
    const runs = [
      cli(['load', '--once', '--proto', 'proto/examples', '--topic', topic, '--warehouse', `duckdb:${join(dir, 'w3.duckdb')}`, '--kafka-config', b.properties.loader!, ...wrong]),
      cli(['derive', '--definitions', defs, '--proto', 'proto/examples', '--group', deriveGroup, '--kafka-config', b.properties.deriver!, ...wrong]),
      cli(['tail', '--topic', topic, '--proto', 'proto/examples', '--kafka-config', b.properties.tailer!, ...wrong]),
    ];
    for (const r of runs) {
      assert.equal(r.status, 4, r.stderr);
      assert.deepEqual(errorLines(r.stderr), ['multidispatch: Kafka authentication failed (SCRAM-SHA-512): wrong user name or password, or the user does not exist']);
      assert.doesNotMatch(r.stdout + r.stderr, /wrong-password-123/);
    }
  });

  it('an untrusted CA (no ssl.ca.location: the system CAs) exits 4 naming TLS', () => {
    const props = join(dir, 'no-ca.properties');
    writeFileSync(props, readFileSync(b.properties.tailer!, 'utf8').split('\n').filter((l) => !l.startsWith('ssl.ca.location')).join('\n'));
    const r = cli(['tail', '--topic', topic, '--proto', 'proto/examples', '--kafka-config', props]);
    assert.equal(r.status, 4, r.stderr);
    assert.match(errorLines(r.stderr)[0]!, /^multidispatch: Kafka authentication failed \(TLS\): the broker's certificate is not trusted .*set ssl\.ca\.location/);
  });

  it('the demo runs end to end on the secured cluster, and neither its output nor its report holds the password', () => {
    const out = join(dir, 'demo');
    const r = cli(['demo', '--orders', '300', '--minutes', '6', '--out', out, '--kafka-config', b.properties.admin!]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /HTML report: .*report\.html/);
    transcript.push(readFileSync(join(out, 'report.html'), 'utf8'), readFileSync(join(out, 'report.json'), 'utf8'));
  });

  it('no output of any run above contains a password', () => {
    const all = transcript.join('\n');
    assert.ok(all.length > 0);
    for (const pw of [...b.passwords, 'wrong-password-123', 'not-the-password-42']) assert.ok(!all.includes(pw), 'a password was printed');
  });
});
