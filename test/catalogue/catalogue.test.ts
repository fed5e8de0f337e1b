/**
 * `multidispatch catalogue` against the suite's broker: push (idempotent, refusals with exit 3, compatible versions),
 * list and show, backup → delete the topic → restore, and restore --replace over a topic with extra keys. The topic's
 * contents are checked with an independent kafkajs reader, not through the catalogue code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { describeTopics } from '../../src/kafka/topics.js';
import { brokers, kafka, kafkaClient, randomSuffix, readAll, endOffsetSum } from '../support/kafka.js';

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['bin/multidispatch.js', ...args, '--brokers', brokers().join(',')], {
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, MULTIDISPATCH_NO_EXIT_GUARD: '1' },
  });

const SCHEMA = `syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
import "multidispatch/options.proto";

// A customer placed an order. Text with "quotes", */ and -- dashes,
// and a second line.
message OrderPlaced {
  option (multidispatch.event) = { topic: "shop.orders" key_field: "order_id" };
  // The order's id.
  string order_id = 1 [(multidispatch.field).high_cardinality = true];
  string market = 2 [(multidispatch.field) = { tag: true allowed_values: ["GB", "FR"] }];
  string note = 3;
  google.protobuf.Timestamp placed_at = 4 [(multidispatch.field).event_time = true];
}

// Money went back to the customer.
message Refunded {
  option (multidispatch.event) = { topic: "shop.orders" key_field: "order_id" };
  string order_id = 1;
  int64 amount_minor = 2;
}
`;

async function protoDir(t: TestContext, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'md-catalogue-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'shop.proto'), text);
  return dir;
}

/** The latest value of every live key, read with an independent consumer. */
async function latestPerKey(topic: string): Promise<Map<string, string>> {
  const count = await endOffsetSum(topic);
  const out = new Map<string, string>();
  if (count === 0) return out;
  for (const m of await readAll(topic, { count, timeoutMs: 60_000 })) {
    if (m.value === null) out.delete(m.key!);
    else out.set(m.key!, m.value.toString('utf8'));
  }
  return out;
}

function dropTopicAfter(t: TestContext, topic: string): void {
  t.after(async () => {
    const admin = kafka('multidispatch-test-admin').admin();
    try {
      await admin.connect();
      if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  });
}

describe('multidispatch catalogue', () => {
  it('push creates a compacted topic, writes each version and latest once, refuses breaking changes, and show/list tell analysts what fields mean', async (t) => {
    const topic = `catalogue-${randomSuffix()}`;
    dropTopicAfter(t, topic);
    const v1 = await protoDir(t, SCHEMA);

    let r = cli(['catalogue', 'push', '--proto', v1, '--catalogue-topic', topic, '--owner', 'orders-team']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /4 record\(s\) wrote|wrote 4|4 record/);
    const [described] = await describeTopics(kafkaClient(), [topic]);
    assert.equal(described!.configs['cleanup.policy'], 'compact');
    let live = await latestPerKey(topic);
    assert.equal(live.size, 4);
    const latest = JSON.parse(live.get('shop.v1.OrderPlaced')!);
    assert.equal(latest.format, 'multidispatch-catalogue/1');
    assert.equal(latest.owner, 'orders-team');
    assert.equal(latest.status, 'active');
    assert.ok(live.has(`shop.v1.OrderPlaced@${latest.fingerprint}`));
    assert.match(latest.doc, /"quotes", \*\/ and -- dashes,\nand a second line\./);
    assert.ok(latest.descriptor.nested.google, 'the descriptor carries the imported google.protobuf.Timestamp');

    // The same schema again: nothing written.
    const before = await endOffsetSum(topic);
    r = cli(['catalogue', 'push', '--proto', v1, '--catalogue-topic', topic]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /0 record\(s\).*2 event type\(s\) unchanged/);
    assert.equal(await endOffsetSum(topic), before);

    // A removed field that is not reserved: refused with file, message, field and rule; nothing written.
    const broken = await protoDir(t, SCHEMA.replace('  string note = 3;\n', ''));
    r = cli(['catalogue', 'push', '--proto', broken, '--catalogue-topic', topic]);
    assert.equal(r.status, 3, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /shop\.proto: shop\.v1\.OrderPlaced: note: .*\[field-removed-not-reserved\]/);
    assert.match(r.stderr, /\[field-name-not-reserved\]/);
    assert.equal(await endOffsetSum(topic), before);

    // A compatible change: a new field, reserved removal. One new version and the latest pointer.
    const v2 = await protoDir(t, SCHEMA.replace('  string note = 3;\n', '  reserved 3;\n  reserved "note";\n  // Coupon code, if any.\n  string coupon = 5;\n'));
    r = cli(['catalogue', 'push', '--proto', v2, '--catalogue-topic', topic]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /wrote shop\.v1\.OrderPlaced@[0-9a-f]{16} \(new version\)/);
    assert.match(r.stdout, /wrote shop\.v1\.OrderPlaced \(latest\)/);
    live = await latestPerKey(topic);
    assert.equal(live.size, 5);
    const newer = JSON.parse(live.get('shop.v1.OrderPlaced')!);
    assert.notEqual(newer.fingerprint, latest.fingerprint);
    assert.equal(newer.owner, 'orders-team', 'the owner carries over');
    assert.equal(JSON.parse(live.get(`shop.v1.OrderPlaced@${latest.fingerprint}`)!).fields.some((f: { name: string }) => f.name === 'note'), true, 'the old version keeps its fields');

    r = cli(['catalogue', 'show', 'shop.v1.OrderPlaced', '--catalogue-topic', topic]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /order_id: string {2}\[key, high cardinality: never a tag\]/);
    assert.match(r.stdout, /market: string {2}\[StatsD tag\]/);
    assert.match(r.stdout, /Coupon code, if any\./);
    assert.match(r.stdout, /versions \(2\):/);
    assert.match(r.stdout, /\+ coupon \(5\), - note \(3\)/);
    r = cli(['catalogue', 'list', '--catalogue-topic', topic]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /shop\.v1\.OrderPlaced +[0-9a-f]{16} +2 +active +shop\.orders +orders-team/);
    assert.match(r.stdout, /shop\.v1\.Refunded +[0-9a-f]{16} +1 +active/);

    // The data dictionary page: every type and field, documentation escaped.
    const site = await mkdtemp(join(tmpdir(), 'md-catalogue-html-'));
    t.after(() => rm(site, { recursive: true, force: true }));
    r = cli(['catalogue', 'html', '--out', site, '--catalogue-topic', topic]);
    assert.equal(r.status, 0, r.stderr);
    const html = await readFile(join(site, 'index.html'), 'utf8');
    assert.match(html, /<h2>shop\.v1\.OrderPlaced<\/h2>/);
    assert.match(html, /<h2>shop\.v1\.Refunded<\/h2>/);
    assert.match(html, /<code>coupon<\/code>/);
    assert.match(html, /&quot;quotes&quot;, \*\/ and -- dashes,<br>and a second line\./);
    assert.match(html, /\+ coupon \(5\), − note \(3\)/);

    // Deprecation is recorded with its date; an unknown type is a usage error naming it.
    r = cli(['catalogue', 'push', '--proto', v2, '--catalogue-topic', topic, '--deprecate', 'shop.v1.Refunded']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse((await latestPerKey(topic)).get('shop.v1.Refunded')!).deprecatedSince, new Date().toISOString().slice(0, 10));
    r = cli(['catalogue', 'show', 'shop.v1.Nope', '--catalogue-topic', topic]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /event type 'shop\.v1\.Nope' is not in catalogue/);
  });

  it('backup → delete the topic → restore gives every key and value back; --replace leaves exactly the backup', async (t) => {
    const topic = `catalogue-${randomSuffix()}`;
    dropTopicAfter(t, topic);
    const dir = await protoDir(t, SCHEMA);
    assert.equal(cli(['catalogue', 'push', '--proto', dir, '--catalogue-topic', topic]).status, 0);
    const original = await latestPerKey(topic);
    const work = await mkdtemp(join(tmpdir(), 'md-catalogue-backup-'));
    t.after(() => rm(work, { recursive: true, force: true }));
    const file = join(work, 'backup.json');

    let r = cli(['catalogue', 'backup', file, '--catalogue-topic', topic]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /backed up 4 record\(s\)/);

    assert.equal(cli(['topics', 'delete', topic, '--yes']).status, 0);
    r = cli(['catalogue', 'restore', file, '--catalogue-topic', topic]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(await latestPerKey(topic), original);
    const [described] = await describeTopics(kafkaClient(), [topic]);
    assert.equal(described!.configs['cleanup.policy'], 'compact');

    // Extra and changed keys: a plain restore refuses, --replace leaves exactly the backup.
    const producer = kafka('multidispatch-test-producer').producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'junk.v1.Extra', value: '{"x":1}' }, { key: 'shop.v1.Refunded', value: '{"changed":true}' }] });
    await producer.disconnect();
    r = cli(['catalogue', 'restore', file, '--catalogue-topic', topic]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /is not empty \(5 live key\(s\)\).*--replace/);
    r = cli(['catalogue', 'restore', file, '--catalogue-topic', topic, '--replace']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /tombstoned 1 key/);
    assert.deepEqual(await latestPerKey(topic), original);

    // A tampered backup is refused before anything is written.
    const tampered = join(work, 'tampered.json');
    await writeFile(tampered, (await readFile(file, 'utf8')).replace('"shop.v1.Refunded"', '"shop.v1.Refundedx"'));
    const end = await endOffsetSum(topic);
    r = cli(['catalogue', 'restore', tampered, '--catalogue-topic', topic, '--replace']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /checksum mismatch/);
    assert.equal(await endOffsetSum(topic), end);
  });
});
