import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { brokers, kafka, randomSuffix } from '../support/kafka.js';

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['bin/multidispatch.js', ...args, '--brokers', brokers().join(',')], { encoding: 'utf8', timeout: 60_000 });

const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${randomSuffix()}`;

/** What the broker itself says about the topics, read with a separate admin client (not through the CLI). */
async function partitionCounts(topics: string[]): Promise<Record<string, number | undefined>> {
  const admin = kafka('multidispatch-test-admin').admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    const meta = present.length ? (await admin.fetchTopicMetadata({ topics: present })).topics : [];
    return Object.fromEntries(topics.map((t) => [t, meta.find((m) => m.name === t)?.partitions.length]));
  } finally {
    await admin.disconnect();
  }
}

/** Deletes whichever of `topics` still exist when the test ends. */
function cleanup(t: TestContext, topics: string[]): void {
  t.after(async () => {
    const admin = kafka('multidispatch-test-admin').admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const left = topics.filter((x) => existing.has(x));
      if (left.length) await admin.deleteTopics({ topics: left });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  });
}

async function protoDir(t: TestContext, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'md-topics-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

const event = (name: string, options: string): string => `message ${name} {\n  option (multidispatch.event) = { ${options} };\n  string id = 1;\n}\n`;
const header = (pkg: string): string => `syntax = "proto3";\npackage ${pkg};\nimport "multidispatch/options.proto";\n`;

describe('multidispatch topics', () => {
  it('create, list, describe and delete round trip against the broker', async (t) => {
    const compacted = unique('topics-compact');
    const plain = unique('topics-plain');
    cleanup(t, [compacted, plain]);

    let r = cli(['topics', 'create', compacted, '--partitions', '3', '--cleanup-policy', 'compact', '--topic-config', 'retention.ms=3600000']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`created ${compacted} \\(3 partitions\\)`));
    r = cli(['topics', 'create', plain]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(await partitionCounts([compacted, plain]), { [compacted]: 3, [plain]: 6 });

    // An existing topic is an error naming it, and nothing else in the call is created.
    const never = unique('topics-never');
    cleanup(t, [never]);
    r = cli(['topics', 'create', never, compacted]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`already exist: ${compacted}`));
    assert.equal((await partitionCounts([never]))[never], undefined);
    // With --if-not-exists it is reported and skipped.
    r = cli(['topics', 'create', compacted, '--if-not-exists']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`exists  ${compacted} \\(3 partitions\\)`));

    r = cli(['topics', 'list', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const listed = JSON.parse(r.stdout) as Array<{ topic: string; partitions: number; replicationFactor: number }>;
    assert.deepEqual(listed.find((x) => x.topic === compacted), { topic: compacted, partitions: 3, replicationFactor: 1 });
    assert.deepEqual(listed.find((x) => x.topic === plain), { topic: plain, partitions: 6, replicationFactor: 1 });
    assert.ok(listed.every((x) => !x.topic.startsWith('__')), 'internal topics only with --internal');
    r = cli(['topics', 'list']);
    assert.match(r.stdout, new RegExp(`^${compacted.replace(/\./g, '\\.')}\\s+3\\s+1$`, 'm'));

    r = cli(['topics', 'describe', compacted, plain, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const [dc, dp] = JSON.parse(r.stdout);
    assert.equal(dc.topic, compacted);
    assert.deepEqual(dc.configs, { 'cleanup.policy': 'compact', 'retention.ms': '3600000' });
    assert.deepEqual(dc.partitions.map((p: { partition: number }) => p.partition), [0, 1, 2]);
    for (const p of dc.partitions) {
      assert.ok(p.leader >= 0, 'every partition has a leader');
      assert.deepEqual(p.replicas, [p.leader]);
      assert.deepEqual(p.isr, [p.leader]);
    }
    assert.equal(dp.partitions.length, 6);
    assert.deepEqual(dp.configs, {}, 'a topic created without configs has none of its own');
    r = cli(['topics', 'describe', compacted]);
    assert.match(r.stdout, /configs: cleanup\.policy=compact, retention\.ms=3600000/);
    assert.match(r.stdout, /partition 2 {2}leader: \d+ {2}replicas: \d+ {2}isr: \d+/);

    // delete refuses without --yes, naming what it would delete, and leaves it in place.
    r = cli(['topics', 'delete', compacted]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`would delete topic\\(s\\) ${compacted}.*--yes`));
    assert.equal((await partitionCounts([compacted]))[compacted], 3);

    r = cli(['topics', 'delete', compacted, plain, '--yes']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(await partitionCounts([compacted, plain]), { [compacted]: undefined, [plain]: undefined });
    r = cli(['topics', 'list', '--json']);
    assert.ok(!(JSON.parse(r.stdout) as Array<{ topic: string }>).some((x) => x.topic === compacted || x.topic === plain));
  });

  it('create --from-schema creates one topic per schema topic with the declared partitions, and a second run creates nothing', async (t) => {
    const orders = unique('schema.orders');
    const audit = unique('schema.audit');
    const renamed = unique('schema.renamed');
    cleanup(t, [orders, audit, renamed]);
    const dir = await protoDir(t, {
      'a.proto':
        header('topics.v1') +
        event('Placed', `topic: "${orders}" key_field: "id" partitions: 4`) +
        event('Shipped', `topic: "${orders}"`) +
        event('Audited', `topic: "${audit}"`) +
        event('Renamed', 'topic: "schema.before-rename" partitions: 1'),
    });
    const args = ['topics', 'create', '--from-schema', dir, '--partitions', '2', '--topic-rename', `schema.before-rename=${renamed}`];

    let r = cli(args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`created ${orders} \\(4 partitions\\)`));
    assert.match(r.stdout, new RegExp(`created ${audit} \\(2 partitions\\)`));
    assert.deepEqual(await partitionCounts([orders, audit, renamed, 'schema.before-rename']), { [orders]: 4, [audit]: 2, [renamed]: 1, 'schema.before-rename': undefined });

    r = cli(args);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /created/);
    for (const topic of [orders, audit, renamed]) assert.match(r.stdout, new RegExp(`exists  ${topic} `));
    assert.match(r.stderr, /0 created, 3 already existed/);
    assert.doesNotMatch(r.stderr, /warning/);

    // A wish that differs from the existing count is a warning; the topic is left as it is.
    r = cli(['topics', 'create', '--from-schema', dir, '--partitions', '5', '--topic-rename', `schema.before-rename=${renamed}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`warning: ${audit} has 2 partitions but --partitions is 5`));
    assert.deepEqual(await partitionCounts([orders, audit, renamed]), { [orders]: 4, [audit]: 2, [renamed]: 1 });
  });

  it('event types declaring different partitions for one topic are a schema error naming both (exit 3); nothing is created', async (t) => {
    const topic = unique('schema.conflict');
    cleanup(t, [topic]);
    const dir = await protoDir(t, {
      'a.proto': header('conflict.v1') + event('First', `topic: "${topic}" partitions: 3`) + event('Second', `topic: "${topic}" partitions: 8`),
    });
    const r = cli(['topics', 'create', '--from-schema', dir]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /conflict\.v1\.Second/);
    assert.match(r.stderr, /conflict\.v1\.First/);
    assert.ok(r.stderr.includes(`'${topic}'`), r.stderr);
    assert.equal((await partitionCounts([topic]))[topic], undefined);
  });

  it('describe and delete of a missing topic exit 2 naming it', async (t) => {
    const present = unique('topics-present');
    const missing = unique('topics-missing');
    cleanup(t, [present]);
    assert.equal(cli(['topics', 'create', present, '--partitions', '1']).status, 0);
    let r = cli(['topics', 'describe', missing]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`not found: ${missing}`));
    r = cli(['topics', 'delete', present, missing, '--yes']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`not found: ${missing}`));
    assert.equal((await partitionCounts([present]))[present], 1, 'nothing is deleted when one of the topics is missing');
  });

  it('bad flags are usage errors before any broker is contacted', () => {
    for (const args of [
      ['topics', 'create'],
      ['topics', 'create', 'x', '--partitions', '0'],
      ['topics', 'create', 'x', '--topic-config', 'retention.ms'],
      ['topics', 'create', 'x', '--cleanup-policy', 'compact', '--topic-config', 'cleanup.policy=delete'],
      ['topics', 'create', 'x', '--from-schema', 'proto/examples'],
      ['topics', 'create', 'x', '--topic-rename', 'a=b'],
    ]) {
      const r = spawnSync(process.execPath, ['bin/multidispatch.js', ...args, '--brokers', '127.0.0.1:1'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  it('an unreachable broker exits 7 promptly', () => {
    const started = Date.now();
    const r = spawnSync(process.execPath, ['bin/multidispatch.js', 'topics', 'list', '--brokers', '127.0.0.1:1'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 7, r.stderr);
    assert.match(r.stderr, /cannot reach Kafka at 127\.0\.0\.1:1/);
    assert.ok(Date.now() - started < 20_000, 'exits within seconds');
  });

  it('every subcommand --help has an example and the exit-code table', () => {
    for (const sub of ['create', 'list', 'describe', 'delete']) {
      const r = spawnSync(process.execPath, ['bin/multidispatch.js', 'topics', sub, '--help'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Examples:\\n  multidispatch topics ${sub}`));
      assert.match(r.stdout, /Exit status \(the same for every command\):[\s\S]*7 {2}Kafka unreachable/);
    }
    assert.match(spawnSync(process.execPath, ['bin/multidispatch.js', 'topics', 'create', '--help'], { encoding: 'utf8' }).stdout, /\(default: 6;/);
  });
});
