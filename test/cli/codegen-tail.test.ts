import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createPublisher, type PublishReceipt } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { brokers, freshTopic } from '../support/kafka.js';
import { paymentFailed } from '../support/events.js';

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ['bin/multidispatch.js', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

describe('multidispatch codegen', () => {
  it('writes the typed event map and a descriptor snapshot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'md-cli-cg-'));
    try {
      const r = cli(['codegen', '--proto', 'proto/examples', '--out', join(dir, 'events.ts'), '--snapshot', join(dir, 'snap.json')]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /8 event type\(s\)/);
      const text = await readFile(join(dir, 'events.ts'), 'utf8');
      assert.match(text, /from 'multidispatch'/);
      assert.match(text, /'orders\.v1\.PaymentFailed': PaymentFailed;/);
      assert.equal(JSON.parse(await readFile(join(dir, 'snap.json'), 'utf8')).format, 'multidispatch-descriptor-snapshot/1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a schema that breaks a rule exits non-zero naming file, message and field', () => {
    const r = cli(['codegen', '--proto', 'test/fixtures/protos/tag-type', '--out', join(tmpdir(), 'never-written.ts')]);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /a\.proto: lint\.v1\.BadTags: user_id: .*\[tag-type\]/);
  });

  it('a .proto that does not parse is one line naming the file, the line and the column, exit 3', async () => {
    const header = ['syntax = "proto3";', 'package orders.v1;', '', 'message Order {', '  string id = 1;'];
    const cases = [
      { body: ['  int32 total = ;', '}'], at: ':6:17: ', reason: /illegal id ';'/ },
      { body: ['  string note = 2 [json_name = "x];', '}'], at: ':6:32: ', reason: /illegal string/ },
      { body: ['  /* never closed', '}'], at: ':6:3: ', reason: /unclosed comment/ },
      { body: ['  string note = 2;'], at: ':6:19: ', reason: /unexpected end of file/ },
      { body: ['  string id = 2;', '}'], at: ': ', reason: /duplicate name 'id'/ },
    ];
    const dir = await mkdtemp(join(tmpdir(), 'md-cli-cg-bad-'));
    try {
      await mkdir(join(dir, 'orders'));
      const file = join(dir, 'orders', 'orders.proto');
      for (const c of cases) {
        await writeFile(file, [...header, ...c.body, ''].join('\n'));
        const r = cli(['codegen', '--proto', dir, '--out', join(dir, 'never-written.ts')]);
        assert.equal(r.status, 3, r.stderr);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.ok(r.stderr.startsWith(`multidispatch: ${file}${c.at}`), r.stderr);
        assert.match(r.stderr, c.reason);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a field of a type that does not exist is a one-line schema error naming file, line and column, exit 3', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'md-cli-cg-bad-'));
    try {
      await writeFile(join(dir, 'a.proto'), ['syntax = "proto3";', 'package orders.v1;', 'message Order {', '  Money total = 1;', '}', ''].join('\n'));
      const r = cli(['codegen', '--proto', dir, '--out', join(dir, 'never-written.ts')]);
      assert.equal(r.status, 3, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stderr.trim(), `multidispatch: ${join(dir, 'a.proto')}:4:3: unknown type 'Money' (in orders.v1.Order)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('with several files, a syntax error in the second, imported by the first, names that file (as given, or relative to the proto dir), line and column', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'md-cli-cg-multi-'));
    try {
      await mkdir(join(dir, 'orders'));
      await mkdir(join(dir, 'types'));
      await writeFile(
        join(dir, 'orders', 'orders.proto'),
        ['syntax = "proto3";', 'package orders.v1;', 'import "multidispatch/options.proto";', 'import "types/money.proto";', '', 'message OrderPlaced {',
          '  option (multidispatch.event) = { topic: "orders.v1" };', '  string order_id = 1;', '  common.v1.Money total = 2;', '}', ''].join('\n'),
      );
      await writeFile(join(dir, 'types', 'money.proto'), ['syntax = "proto3";', 'package common.v1;', '', 'message Money {', '  int64 amount_minor = 1;', '  string currency = 2', '}', ''].join('\n'));
      await writeFile(join(dir, 'types', 'zz-ok.proto'), ['syntax = "proto3";', 'package common.v1;', 'message Other { string a = 1; }', ''].join('\n'));
      const given = cli(['codegen', '--proto', dir, '--out', join(dir, 'never-written.ts')]);
      assert.equal(given.status, 3, given.stderr);
      assert.equal(given.stderr.trim(), `multidispatch: ${join(dir, 'types', 'money.proto')}:7:1: illegal token '}', ';' expected`);
      // From inside the proto dir (`--proto .`): the path relative to it, and the import is not loaded twice.
      const inside = spawnSync(process.execPath, [join(process.cwd(), 'bin/multidispatch.js'), 'codegen', '--proto', '.', '--out', 'never-written.ts'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      assert.equal(inside.status, 3, inside.stderr);
      assert.equal(inside.stderr.trim(), `multidispatch: types/money.proto:7:1: illegal token '}', ';' expected`);
      // Fixed, the same tree compiles from inside the dir too (imports resolve against the proto dir, not twice).
      await writeFile(join(dir, 'types', 'money.proto'), ['syntax = "proto3";', 'package common.v1;', '', 'message Money {', '  int64 amount_minor = 1;', '  string currency = 2;', '}', ''].join('\n'));
      const ok = spawnSync(process.execPath, [join(process.cwd(), 'bin/multidispatch.js'), 'codegen', '--proto', '.', '--out', 'events.ts'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(await readFile(join(dir, 'events.ts'), 'utf8'), /'orders\.v1\.OrderPlaced': OrderPlaced;/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a missing proto folder is a one-line error', () => {
    const r = cli(['codegen', '--proto', 'no/such/dir']);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /proto directory 'no\/such\/dir' does not exist/);
  });

  it('--help documents the options', () => {
    const r = cli(['codegen', '--help']);
    assert.equal(r.status, 0);
    for (const flag of ['--proto', '--out', '--against', '--snapshot']) assert.ok(r.stdout.includes(flag), flag);
  });
});

describe('multidispatch tail', () => {
  it('prints each record decoded with type, key, partition, offset and headers', async (t) => {
    const topic = await freshTopic(t, { partitions: 2 });
    const publisher = createPublisher({ schema, kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
    const receipts: PublishReceipt[] = [];
    for (let i = 0; i < 3; i++) receipts.push(await publisher.publish('orders.v1.PaymentFailed', paymentFailed({ orderId: `tail-${i}`, market: 'IT' })));
    await publisher.close();

    const r = cli(['tail', '--topic', topic, '--proto', 'proto/examples', '--from-beginning', '--max', '3', '--brokers', brokers().join(',')]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    for (const line of lines) {
      const receipt = receipts.find((x) => x.eventId === line.headers['md-event-id']);
      assert.ok(receipt, 'every printed record is one we published');
      assert.equal(line.type, 'orders.v1.PaymentFailed');
      assert.equal(line.partition, receipt.partition);
      assert.equal(line.offset, receipt.offset);
      assert.equal(line.key, line.event.orderId);
      assert.equal(line.event.market, 'IT');
      assert.equal(line.event.platform, 'ANDROID');
    }
  });

  it('an unknown topic exits 2 with one line naming it', () => {
    const r = cli(['tail', '--topic', 'no-such-topic-xyz', '--proto', 'proto/examples', '--max', '1', '--brokers', brokers().join(',')]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, 'multidispatch: topic no-such-topic-xyz not found on the cluster\n');
  });

  it('a bad --max is a usage error', () => {
    const r = cli(['tail', '--topic', 'x', '--max', 'lots', '--brokers', '127.0.0.1:1']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--max must be a positive integer/);
  });
});
