/** The lake's fault scenarios, shared by the file-system and S3 tests: a CLI loader SIGKILLed and restarted. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { brokers, freshTopic } from './kafka.js';
import { runLoad } from './loader.js';
import { assertFilesConsistent, filesWithOffsets, LAKE_PROTO_DIR, lakeEvent, lakeSchema, publishLake } from './lake.js';


/** Rows, distinct (partition, offset) and distinct event ids in a lake directory (every visible file must read). */
export async function lakeCounts(dir: string): Promise<{ rows: number; positions: number; ids: number; files: number }> {
  if (!existsSync(dir) || !readdirSync(dir).some((n) => n.startsWith('topic='))) return { rows: 0, positions: 0, ids: 0, files: 0 };
  const files = await filesWithOffsets(dir);
  assertFilesConsistent(files);
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    const r = await c.runAndReadAll(
      `SELECT count(*) AS n, count(DISTINCT (_partition, _offset)) AS p, count(DISTINCT _event_id) AS i FROM read_parquet('${dir}/**/*.parquet', union_by_name = true)`,
    );
    const row = r.getRowObjectsJS()[0]!;
    return { rows: Number(row.n), positions: Number(row.p), ids: Number(row.i), files: files.length };
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

/** Files a crash may leave that a finished load must have cleaned up: temporary files and write intents. */
export function leftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), r);
      else if (e.name.endsWith('.tmp') || r.startsWith('_multidispatch/pending/')) out.push(r);
    }
  };
  if (existsSync(dir)) walk(dir, '');
  return out;
}

/**
 * The SIGKILL scenario on any lake location: `sync` brings the lake to `local` for reading (a no-op on the file
 * system; a download from S3).
 */
export async function killAndRestart(
  t: { after(fn: () => unknown): void; diagnostic(msg: string): void },
  opts: { location: (topic: string) => string; local: string; sync: () => Promise<void>; env?: Record<string, string>; extraArgs?: string[]; n: number },
): Promise<void> {
  const topic = await freshTopic(t as never, { partitions: 3 });
  const schema = await lakeSchema();
  await publishLake(schema, topic, Array.from({ length: opts.n }, (_, i) => lakeEvent(i)));
  const args = ['--topic', topic, '--topic-rename', `lake.v1=${topic}`, '--warehouse', opts.location(topic), '--group', `g-${topic}`, '--once',
    '--batch-records', '900', '--flush-ms', '200', '--dlq-topic', `${topic}.dlq`, '--session-timeout-ms', '6000', '--proto', LAKE_PROTO_DIR, ...(opts.extraArgs ?? [])];
  // Kills: once assigned (before any commit), then after a random number of commits plus a random delay, so they
  // land between batches and inside a batch's write (between files, before the commit marker).
  const plan = [{ afterCommits: 0, jitterMs: 20 }, ...Array.from({ length: 4 }, () => ({ afterCommits: 1 + Math.floor(Math.random() * 4), jitterMs: Math.floor(Math.random() * 80) }))];
  const history: string[] = [];
  let partialKills = 0;
  let cleanups = 0;
  for (const kill of plan) {
    const r = await runLoad(args, opts.env, kill);
    cleanups += r.stderr.split('\n').filter((l) => l.includes('batches that never committed')).length;
    await opts.sync();
    const c = await lakeCounts(opts.local);
    history.push(`kill after ${kill.afterCommits} commit(s) + ${kill.jitterMs} ms: ${r.signal ?? `exit ${r.code}`}, rows ${c.rows} in ${c.files} file(s)`);
    // Files of a batch cut short may be visible until the next start removes them; never an offset twice.
    assert.equal(c.rows, c.positions, `no (partition, offset) twice after a kill (${history.join('; ')})`);
    assert.equal(c.rows, c.ids, `no event id twice after a kill (${history.join('; ')})`);
    if (r.signal === 'SIGKILL' && c.rows < opts.n) partialKills++;
  }
  const last = await runLoad(args, opts.env);
  cleanups += last.stderr.split('\n').filter((l) => l.includes('batches that never committed')).length;
  assert.equal(last.code, 0, `final run exits 0: ${last.stderr.slice(-3000)}`);
  assert.match(last.stdout, /^loaded \d+ row\(s\) in \d+ batch\(es\) into lake:\S+ \(\d+ Parquet file\(s\), [\d.]+ MiB/, 'the summary names the lake and its files');
  await opts.sync();
  const c = await lakeCounts(opts.local);
  t.diagnostic(`${history.join('; ')}; final: ${c.rows} rows in ${c.files} files; starts that removed an unfinished batch's files: ${cleanups}`);
  assert.deepEqual({ rows: c.rows, positions: c.positions, ids: c.ids }, { rows: opts.n, positions: opts.n, ids: opts.n });
  assert.ok(partialKills >= 4, `at least four kills landed before the load was complete (${history.join('; ')})`);
  assert.deepEqual(leftovers(opts.local), [], 'no temporary file or write intent left after a finished load');
}

