import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { createLoader, type Loader } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { DuckDbWarehouse } from '../../src/warehouse/duckdb/warehouse.js';
import { brokers, freshTopic } from '../support/kafka.js';
import { capturingLogger, publishMixed, runLoad, tempDir } from '../support/loader.js';

const root = resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tableOf = (topic: string) => topic.toUpperCase().replace(/[^A-Z0-9_]/g, '_');

/** Row count, distinct (partition, offset) and distinct event ids of a topic table in a DuckDB file. */
async function counts(warehouse: DuckDbWarehouse, topic: string): Promise<{ rows: number; positions: number; ids: number }> {
  const [r] = await warehouse.query(
    `SELECT count(*) AS n, count(DISTINCT (RECORD_METADATA->>'$.partition') || ':' || (RECORD_METADATA->>'$.offset')) AS p,
            count(DISTINCT RECORD_METADATA->>'$.event_id') AS i FROM "${tableOf(topic)}"`,
  );
  return { rows: Number(r!.n), positions: Number(r!.p), ids: Number(r!.i) };
}

async function countsInFile(db: string, topic: string) {
  const w = new DuckDbWarehouse({ path: db });
  try {
    await w.connect();
    await w.ensureTable(tableOf(topic));
    return await counts(w, topic);
  } finally {
    await w.close();
  }
}


describe('loader faults (real broker, DuckDB file)', () => {
  it('SIGKILL at random points during a load of 30,000 records, restarted several times: exactly N rows, no duplicate (partition, offset)', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const db = join(tempDir(t), 'events.duckdb');
    const N = 30_000;
    await publishMixed(topic, N);
    // Session timeout at the broker's floor: a killed loader keeps its partitions until it expires.
    const args = ['--topic', topic, '--topic-rename', `orders.v1=${topic}`, '--warehouse', `duckdb:${db}`, '--group', `g-${topic}`, '--once',
      '--batch-records', '700', '--flush-ms', '200', '--dlq-topic', `${topic}.dlq`, '--session-timeout-ms', '6000', '--proto', 'proto'];
    // Kill points: before the first commit, then after a random number of commits plus a random delay, so
    // kills land between commits and inside a transaction.
    const plan = [{ afterCommits: 0, jitterMs: 30 }, ...Array.from({ length: 5 }, () => ({ afterCommits: 1 + Math.floor(Math.random() * 6), jitterMs: Math.floor(Math.random() * 60) }))];
    const history: string[] = [];
    let partialKills = 0;
    let previous = 0;
    for (const kill of plan) {
      const r = await runLoad(args, {}, kill);
      const c = await countsInFile(db, topic);
      history.push(`kill after ${kill.afterCommits} commit(s) + ${kill.jitterMs} ms: ${r.signal ?? `exit ${r.code}`}, rows ${c.rows}`);
      assert.equal(c.rows, c.positions, `no duplicate (partition, offset) after a kill (${history.join('; ')})`);
      assert.equal(c.rows, c.ids, 'no duplicate event id after a kill');
      assert.ok(c.rows >= previous, 'committed rows never disappear');
      assert.equal(c.rows % 1, 0);
      previous = c.rows;
      if (r.signal === 'SIGKILL' && c.rows < N) partialKills++;
      if (c.rows === N) break;
    }
    const last = await runLoad(args);
    assert.equal(last.code, 0, `final run exits 0: ${last.stderr}`);
    const c = await countsInFile(db, topic);
    t.diagnostic(`${history.join('; ')}; final rows ${c.rows}`);
    assert.deepEqual(c, { rows: N, positions: N, ids: N });
    assert.ok(partialKills >= 3, `at least three kills landed before the load was complete (${history.join('; ')})`);
  });

  it('two loader instances in one group, one stopped mid-way with its open batch abandoned (rebalance): exactly N rows, both loaded some', async (t) => {
    const topic = await freshTopic(t, { partitions: 4 });
    const db = join(tempDir(t), 'events.duckdb');
    const half = 12_000;
    const { logger, lines } = capturingLogger();
    const opts = {
      kafka: { brokers: brokers() }, schema, topics: [topic], topicRenames: { 'orders.v1': topic }, group: `g-${topic}`,
      warehouse: { type: 'duckdb' as const, path: db, shared: true }, batchRecords: 300, flushMs: 100, dlqTopic: `${topic}.dlq`,
      sessionTimeoutMs: 6000, logIntervalMs: 60_000,
    };
    const a: Loader = createLoader(opts, { logger: logger.child({ instance: 'A' }) });
    const b: Loader = createLoader(opts, { logger: logger.child({ instance: 'B' }) });
    const view = new DuckDbWarehouse({ path: db, shared: true });
    t.after(async () => {
      await a.stop({ abandon: true }).catch(() => undefined);
      await b.stop().catch(() => undefined);
      await view.close();
    });
    void a.run().catch((err) => t.diagnostic(`A failed: ${(err as Error).message}`));
    void b.run().catch((err) => t.diagnostic(`B failed: ${(err as Error).message}`));
    const assignedTo = (who: string) => lines.filter((l) => l.instance === who && l.msg === 'partitions assigned').at(-1)?.partitions as string[] | undefined;
    // Wait until the group settled with two partitions each, then publish.
    let deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(assignedTo('A')?.length === 2 && assignedTo('B')?.length === 2)) await sleep(100);
    assert.equal(assignedTo('A')?.length, 2, 'A has two partitions');
    assert.equal(assignedTo('B')?.length, 2, 'B has two partitions');
    await view.connect();
    await publishMixed(topic, half);
    deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (a.stats().rowsLoaded === 0 || b.stats().rowsLoaded === 0)) await sleep(50);
    const aBefore = a.stats().rowsLoaded;
    assert.ok(aBefore > 0 && b.stats().rowsLoaded > 0, `both instances loaded rows: A ${aBefore}, B ${b.stats().rowsLoaded}`);
    // Take A away mid-stream: its open batch is dropped, its partitions move to B.
    const more = publishMixed(topic, half);
    await sleep(300);
    await a.stop({ abandon: true });
    await more;
    const N = 2 * half;
    const until = Date.now() + 120_000;
    let c = await counts(view, topic);
    while (Date.now() < until && c.rows < N) {
      await sleep(200);
      c = await counts(view, topic);
    }
    await sleep(1500); // a duplicate, if any, would land now
    c = await counts(view, topic);
    t.diagnostic(`A loaded ${a.stats().rowsLoaded}, B loaded ${b.stats().rowsLoaded}; offset conflicts A ${a.stats().offsetConflicts}, B ${b.stats().offsetConflicts}`);
    assert.deepEqual(c, { rows: N, positions: N, ids: N });
    assert.equal(a.stats().rowsLoaded + b.stats().rowsLoaded, N, 'rows committed by A and B add up to N');
    assert.equal(assignedTo('B')?.length, 4, 'B got all four partitions after A left');
  });

  it('long-running mode logs lag per partition; SIGTERM commits the open batch, leaves the group and exits 0', async (t) => {
    const topic = await freshTopic(t, { partitions: 2 });
    const db = join(tempDir(t), 'events.duckdb');
    const N = 3_000;
    await publishMixed(topic, N);
    // Batches never fill and never age out: everything is in the open batch when SIGTERM arrives.
    const child = spawn(process.execPath, [join(root, 'bin/multidispatch.js'), 'load', '--topic', topic, '--topic-rename', `orders.v1=${topic}`,
      '--warehouse', `duckdb:${db}`, '--group', `g-${topic}`, '--batch-records', '1000000', '--batch-bytes', '1000000000', '--flush-ms', '600000',
      '--log-interval-ms', '500', '--dlq-topic', `${topic}.dlq`, '--proto', 'proto'], { cwd: root, env: { ...process.env, KAFKA_BROKERS: brokers().join(',') }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<Record<string, unknown>> = [];
    let buf = '';
    child.stderr.on('data', (d: Buffer) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          /* not JSON */
        }
      }
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !lines.some((l) => l.msg === 'loader progress')) await sleep(100);
    const progress = lines.find((l) => l.msg === 'loader progress');
    assert.ok(progress, 'a progress line was logged');
    assert.deepEqual(Object.keys(progress.lag as object).sort(), [`${topic}[0]`, `${topic}[1]`], 'lag per assigned partition');
    assert.equal(typeof progress.rowsPerSec, 'number');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stdout, new RegExp(`loaded ${N} row\\(s\\) in 1 batch`));
    assert.ok(lines.some((l) => l.msg === 'stopping: finishing the open batch' && l.signal === 'SIGTERM'));
    assert.deepEqual(await countsInFile(db, topic), { rows: N, positions: N, ids: N });
  });
});
