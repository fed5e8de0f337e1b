/**
 * One measured run of one variant of benchmarks/load, in its own process (fresh JIT and heap). Started by
 * run.ts with the configuration in BENCH_CONFIG and an IPC channel:
 *   set-up (untimed: W reads its rows here) → 'ready' → parent marks broker CPU → 'go' →
 *   timed phase → 'result' → untimed checks and close → exit.
 * Mode 'prepare' is not a variant: it pre-fills the topic with the real publisher, then reads it back once
 * with decodeRecord and writes the rows (metadata and content JSON) to a file for W.
 *
 * CPU is process.cpuUsage() of this process only (all its threads, DuckDB's included), over the timed phase.
 */
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { Kafka, logLevel, type EachBatchPayload } from 'kafkajs';
import { Consumer as PlatformaticKafkaConsumer, FetchIsolationLevels, type Message as PlatformaticMessage } from '@platformatic/kafka';
import pino from 'pino';
import { createLoader, createPublisher, type LoaderStats } from 'multidispatch';
import { tableNameForTopic } from 'multidispatch/loader';
import type { IncomingRecord } from 'multidispatch/kafka';
import { schema } from 'multidispatch/examples';
// decodeRecord is not exported from the package root: the built modules the loader itself uses (the same
// files `multidispatch` resolves to, so the same module instances at run time).
import { decodeRecord } from '../../dist/src/loader/record.js';
import { EventRegistry } from '../../dist/src/schema/registry.js';
import { DuckDbWarehouse } from '../../dist/src/warehouse/duckdb/warehouse.js';
import { LakeWarehouse } from '../../dist/src/warehouse/lake/warehouse.js';
import { openWarehouse } from '../../dist/src/warehouse/open.js';
import { PlatformaticConsumer } from '../../dist/src/kafka/platformatic/consumer.js';
import { publishAll } from '../lib/prefill.js';
import { round } from '../lib/stats.js';
import { loadEventPool } from './events.js';
import { send, waitFor } from '../lib/child-ipc.js';

export type Mode = 'prepare' | 'C' | 'Cp' | 'W' | 'L' | 'Lp' | 'K';

export interface ChildConfig {
  mode: Mode;
  brokers: string;
  topic: string;
  /** Records in the topic (prepare: to publish). */
  n: number;
  /** Fresh consumer group (C, C′, L, L′). */
  group: string;
  /** W, L: the fresh DuckDB file; K: the fresh lake directory; prepare: unused. */
  dbPath: string;
  /** prepare writes, W reads: alternating lines of metadata and content JSON. */
  rowsFile: string;
  /** W: rows per transaction (the loader's default batchRecords). */
  batchRows: number;
  /** prepare: publishes kept unsettled at most. */
  maxOutstanding: number;
}

export interface ChildResult {
  mode: Mode;
  n: number;
  /** The timed phase: C, C′ first fetch → last record decoded; W first BEGIN → last COMMIT; L, L′ start() → caught up. */
  elapsedMs: number;
  rowsPerSec: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  cpuUsPerRow: number;
  maxRssMiB: number;
  /**
   * C, L, L′: eachBatch calls (one per partition per fetch: kafkajs's, or the platformatic adapter's own fetch loop);
   * C′: fetch responses of platformatic's message stream (its 'fetch' event: one per broker per fetch, no batches).
   */
  fetchBatches: number;
  /** W, L: committed DuckDB transactions. */
  transactions: number;
  /** C: bytes of key + value + header keys and values of the records read. */
  payloadBytes?: number;
  /** C, C′, L, L′: from the consumer's start (C: run(); C′: consume(); L, L′: start()) to the first eachBatch call (C′: first message). */
  startToFirstFetchMs?: number;
  /** L, L′: start() → first committed batch; start() → caught up; start() → runOnce() resolved (shutdown included). */
  firstCommitMs?: number;
  caughtUpMs?: number;
  runOnceMs?: number;
  /** L, L′: rows ÷ (first fetch → caught up), and its CPU per row. */
  steadyRowsPerSec?: number;
  steadyCpuUsPerRow?: number;
  /** L, L′: what the loader said, and the check of the DuckDB table afterwards. */
  loaderStats?: LoaderStats;
  check?: { rows: number; distinctPartitionOffset: number; offsetsSum: number; ok: boolean };
  /** prepare: publish time, payload bytes and type mix. */
  prepare?: { published: number; publishMs: number; errors: number; rowsWritten: number; payloadBytes: number; rowJsonBytes: number; types: Record<string, number> };
  /** K: the Parquet files the lake run produced. */
  lake?: { files: number; bytes: number; rowsPerFile: [number, number, number]; bytesPerFile: [number, number, number]; compression: string };
  /** Where the wall time of the timed phase went (ms, summed; see WallSplit). */
  wall?: WallSplit;
  /** The timed phase in the process' monotonic clock (µs), to cut a --cpu-prof profile to it. */
  windowUs: [number, number];
}

/**
 * Wall-clock accounting, from 'go' on: time inside the eachBatch callbacks (C: decode; L, L′: the loader's
 * per-record loop, and the writes it awaits), inside DuckDbWarehouse.writeBatch (L, L′), and inside the awaited
 * DuckDB statements by their first keyword (BEGIN, SELECT, UPDATE, INSERT, COMMIT, CREATE...; W, L, L′).
 * The appender calls are synchronous and not in `sql`. C′ has no eachBatch (platformatic's stream hands over
 * single messages, and timing each one would cost more than it measures): its inEachBatchMs is not measured.
 */
export interface WallSplit {
  inEachBatchMs: number;
  writeBatchMs: number;
  writeBatches: number;
  sql: Record<string, { n: number; ms: number }>;
}

const cfg = JSON.parse(process.env.BENCH_CONFIG ?? '{}') as ChildConfig;
const hrUs = () => Number(process.hrtime.bigint() / 1000n);
const renames = () => ({ 'orders.v1': cfg.topic });

/** The same consumer settings as the loader's (src/loader/loader.ts), so C reads the topic the way L does. */
const CONSUMER_SETTINGS = {
  sessionTimeout: 30_000,
  rebalanceTimeout: 60_000,
  heartbeatInterval: 3_000,
  allowAutoTopicCreation: false,
  maxBytesPerPartition: 4 * 1024 * 1024,
  maxBytes: 16 * 1024 * 1024,
  maxWaitTimeInMs: 500,
  readUncommitted: false,
};

// Count the eachBatch calls of every consumer created in this process (the loader's included, on either client)
// and note the first: kafkajs's Kafka.consumer and the platformatic adapter's PlatformaticConsumer.run are wrapped.
let firstFetchAt: number | undefined;
let firstFetchCpu: NodeJS.CpuUsage | undefined;
let firstFetchHr: number | undefined;
let fetchBatches = 0;
const noteFirstFetch = () => {
  if (firstFetchAt === undefined) {
    firstFetchAt = performance.now();
    firstFetchCpu = process.cpuUsage();
    firstFetchHr = hrUs();
  }
};
const wall: WallSplit = { inEachBatchMs: 0, writeBatchMs: 0, writeBatches: 0, sql: {} };
const resetWall = () => Object.assign(wall, { inEachBatchMs: 0, writeBatchMs: 0, writeBatches: 0, sql: {} });
const roundWall = (): WallSplit => ({
  inEachBatchMs: round(wall.inEachBatchMs, 1),
  writeBatchMs: round(wall.writeBatchMs, 1),
  writeBatches: wall.writeBatches,
  sql: Object.fromEntries(Object.entries(wall.sql).map(([k, v]) => [k, { n: v.n, ms: round(v.ms, 1) }])),
});
const timed = async <T>(fn: () => Promise<T>, add: (ms: number) => void): Promise<T> => {
  const t = performance.now();
  try {
    return await fn();
  } finally {
    add(performance.now() - t);
  }
};
// DuckDB statements (the loader's adapter and W use the same connection class). runAndReadAll goes through
// run, so wrapping run alone counts every statement once (reading a result back is not included).
for (const method of ['run'] as const) {
  const original = DuckDBConnection.prototype[method] as (this: DuckDBConnection, sql: string, ...rest: unknown[]) => Promise<unknown>;
  (DuckDBConnection.prototype as unknown as Record<string, unknown>)[method] = function (this: DuckDBConnection, sql: string, ...rest: unknown[]) {
    const kind = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '?';
    return timed(() => original.call(this, sql, ...rest), (ms) => {
      const e = (wall.sql[kind] ??= { n: 0, ms: 0 });
      e.n++;
      e.ms += ms;
    });
  };
}
const originalWriteBatch = DuckDbWarehouse.prototype.writeBatch;
DuckDbWarehouse.prototype.writeBatch = function (this: DuckDbWarehouse, ...args: Parameters<DuckDbWarehouse['writeBatch']>) {
  wall.writeBatches++;
  return timed(() => originalWriteBatch.apply(this, args), (ms) => (wall.writeBatchMs += ms));
};
const originalLakeWriteBatch = LakeWarehouse.prototype.writeBatch;
LakeWarehouse.prototype.writeBatch = function (this: LakeWarehouse, ...args: Parameters<LakeWarehouse['writeBatch']>) {
  wall.writeBatches++;
  return timed(() => originalLakeWriteBatch.apply(this, args), (ms) => (wall.writeBatchMs += ms));
};
const originalConsumer = Kafka.prototype.consumer;
Kafka.prototype.consumer = function (this: Kafka, ...args: Parameters<Kafka['consumer']>) {
  const consumer = originalConsumer.apply(this, args);
  const run = consumer.run;
  consumer.run = (config) =>
    run({
      ...config,
      ...(config?.eachBatch
        ? {
            eachBatch: (p: EachBatchPayload) => {
              noteFirstFetch();
              fetchBatches++;
              return timed(() => config.eachBatch!(p), (ms) => (wall.inEachBatchMs += ms));
            },
          }
        : {}),
    });
  return consumer;
};
// The loader on client 'platformatic' (L′) consumes through the adapter's PlatformaticConsumer (the same module
// instance: dist/src, which `multidispatch` resolves to); its eachBatch is the port's, called from the adapter's loop.
const originalPlatformaticRun = PlatformaticConsumer.prototype.run;
PlatformaticConsumer.prototype.run = function (this: PlatformaticConsumer, options: Parameters<PlatformaticConsumer['run']>[0]) {
  return originalPlatformaticRun.call(this, {
    ...options,
    eachBatch: (ctx) => {
      noteFirstFetch();
      fetchBatches++;
      return timed(() => options.eachBatch(ctx), (ms) => (wall.inEachBatchMs += ms));
    },
  });
};

function rssSampler(): { stop(): number } {
  let max = process.memoryUsage.rss();
  const timer = setInterval(() => (max = Math.max(max, process.memoryUsage.rss())), 100);
  return {
    stop() {
      clearInterval(timer);
      return round(Math.max(max, process.memoryUsage.rss()) / 2 ** 20);
    },
  };
}

const cpuUs = (c: NodeJS.CpuUsage) => c.user + c.system;

function baseResult(n: number, elapsedMs: number, cpu: NodeJS.CpuUsage, maxRssMiB: number, windowUs: [number, number]): ChildResult {
  return {
    mode: cfg.mode,
    n,
    elapsedMs: round(elapsedMs, 1),
    rowsPerSec: round(n / (elapsedMs / 1000)),
    cpuUserMs: round(cpu.user / 1000, 1),
    cpuSystemMs: round(cpu.system / 1000, 1),
    cpuUsPerRow: round(cpuUs(cpu) / n, 2),
    maxRssMiB,
    fetchBatches,
    transactions: 0,
    windowUs,
  };
}

/** Pre-fill (untimed): the real publisher, then one read-back with decodeRecord → rows file for W. */
async function prepare(): Promise<ChildResult> {
  const pool = loadEventPool();
  const types: Record<string, number> = {};
  const t0 = performance.now();
  const publisher = createPublisher({ schema, producer: 'bench-load', kafka: { brokers: [cfg.brokers] }, statsd: false, topics: renames() });
  const { errors } = await publishAll(publisher, cfg.n, cfg.maxOutstanding, (i) => {
    const e = pool[i % pool.length]!;
    types[e.type] = (types[e.type] ?? 0) + 1;
    return publisher.publish(e.type, e.event as never);
  });
  const publishMs = performance.now() - t0;

  // Read the topic back once, as the loader would, and keep the rows for W.
  const registry = new EventRegistry(schema, { topics: renames() });
  const out = createWriteStream(cfg.rowsFile);
  let rows = 0;
  let payloadBytes = 0;
  let rowJsonBytes = 0;
  let seen = 0;
  const kafka = new Kafka({ clientId: 'bench-load-prepare', brokers: [cfg.brokers], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${cfg.group}`, ...CONSUMER_SETTINGS });
  await consumer.connect();
  await consumer.subscribe({ topics: [cfg.topic], fromBeginning: true });
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const loadTime = new Date().toISOString();
      const chunks: string[] = [];
      for (const m of batch.messages) {
        seen++;
        payloadBytes += messageBytes(m);
        const d = decodeRecord(registry, batch.topic, batch.partition, m as unknown as IncomingRecord, loadTime); // kafkajs consumed headers are Buffers
        if (d.kind !== 'row') throw new Error(`record ${batch.partition}/${m.offset} did not decode: ${d.kind}`);
        rows++;
        rowJsonBytes += d.bytes;
        chunks.push(d.row.metadata, '\n', d.row.content, '\n');
      }
      if (!out.write(chunks.join(''))) await new Promise<void>((r) => out.once('drain', r));
      if (seen >= cfg.n) done();
    },
  });
  await finished;
  await consumer.disconnect();
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
  const r = baseResult(cfg.n, publishMs, process.cpuUsage(), 0, [0, 0]);
  r.prepare = { published: cfg.n, publishMs: round(publishMs), errors, rowsWritten: rows, payloadBytes, rowJsonBytes, types };
  return r;
}

function messageBytes(m: { key: Buffer | null; value: Buffer | null; headers?: Record<string, unknown> }): number {
  let b = (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) b += k.length + (Buffer.isBuffer(v) ? v.length : String(v ?? '').length);
  return b;
}

/** C: a bare kafkajs consumer (fresh group, eachBatch) doing the loader's per-record decode and discarding it. */
async function consumeLimit(): Promise<ChildResult> {
  const registry = new EventRegistry(schema, { topics: renames() });
  const kafka = new Kafka({ clientId: 'bench-load-c', brokers: [cfg.brokers], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: cfg.group, ...CONSUMER_SETTINGS });
  await consumer.connect();
  await consumer.subscribe({ topics: [cfg.topic], fromBeginning: true });
  await send({ type: 'ready' });
  await waitFor('go');
  (globalThis as { gc?: () => void }).gc?.();
  resetWall();
  const rss = rssSampler();
  let seen = 0;
  let payloadBytes = 0;
  let sink = 0;
  let end!: { t: number; cpu: NodeJS.CpuUsage; hr: number };
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const runAt = performance.now();
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async ({ batch }) => {
      const loadTime = new Date().toISOString();
      for (const m of batch.messages) {
        payloadBytes += messageBytes(m);
        const d = decodeRecord(registry, batch.topic, batch.partition, m as unknown as IncomingRecord, loadTime); // kafkajs consumed headers are Buffers
        if (d.kind === 'row') sink += d.bytes;
        seen++;
      }
      if (seen >= cfg.n && !end) {
        end = { t: performance.now(), cpu: process.cpuUsage(), hr: hrUs() };
        done();
      }
    },
  });
  await finished;
  const maxRss = rss.stop();
  const r = baseResult(seen, end.t - firstFetchAt!, diffCpu(end.cpu, firstFetchCpu!), maxRss, [firstFetchHr!, end.hr]);
  r.payloadBytes = payloadBytes;
  r.wall = roundWall();
  r.startToFirstFetchMs = round(firstFetchAt! - runAt, 1);
  if (sink === 0) throw new Error('nothing decoded');
  await send({ type: 'result', result: r });
  await consumer.disconnect();
  return r;
}

/**
 * C′: a bare, hand-written consumer on @platformatic/kafka's own API (not the package's port): a fresh group,
 * `consume({ mode: 'earliest', autocommit: false })` with C's fetch sizes, wait and isolation, a 'data' listener
 * (messages are handed over synchronously while a fetch response is parsed: no async iterator, no buffering).
 * Each message is turned into the IncomingRecord decodeRecord expects (bigint offset and timestamp → decimal
 * strings, headers Map<Buffer, Buffer> → object of Buffers) inside the timed phase, then decoded and discarded.
 */
async function consumeLimitPlatformatic(): Promise<ChildResult> {
  const registry = new EventRegistry(schema, { topics: renames() });
  const consumer = new PlatformaticKafkaConsumer({ clientId: 'bench-load-cp', bootstrapBrokers: [cfg.brokers], groupId: cfg.group, autocreateTopics: false });
  await consumer.metadata({ topics: [cfg.topic] }); // connect (C's connect() + subscribe())
  await send({ type: 'ready' });
  await waitFor('go');
  (globalThis as { gc?: () => void }).gc?.();
  resetWall();
  const rss = rssSampler();
  let seen = 0;
  let payloadBytes = 0;
  let sink = 0;
  let end: { t: number; cpu: NodeJS.CpuUsage; hr: number } | undefined;
  let done!: () => void;
  let fail!: (err: unknown) => void;
  const finished = new Promise<void>((res, rej) => ((done = res), (fail = rej)));
  // C computes the load time once per eachBatch; here once per fetch response (the stream emits 'fetch' before
  // it hands over that response's messages).
  let loadTime = new Date().toISOString();
  const runAt = performance.now();
  const stream = await consumer.consume({
    topics: [cfg.topic],
    mode: 'earliest',
    autocommit: false,
    sessionTimeout: CONSUMER_SETTINGS.sessionTimeout,
    rebalanceTimeout: CONSUMER_SETTINGS.rebalanceTimeout,
    heartbeatInterval: CONSUMER_SETTINGS.heartbeatInterval,
    minBytes: 1,
    maxBytes: CONSUMER_SETTINGS.maxBytes,
    maxBytesPerPartition: CONSUMER_SETTINGS.maxBytesPerPartition,
    maxWaitTime: CONSUMER_SETTINGS.maxWaitTimeInMs,
    isolationLevel: CONSUMER_SETTINGS.readUncommitted ? FetchIsolationLevels.READ_UNCOMMITTED : FetchIsolationLevels.READ_COMMITTED,
  });
  stream.on('fetch', () => {
    fetchBatches++;
    loadTime = new Date().toISOString();
  });
  stream.on('error', (err) => fail(err));
  stream.on('data', (m: PlatformaticMessage<Buffer, Buffer, Buffer, Buffer>) => {
    if (end) return;
    noteFirstFetch();
    try {
      const headers: IncomingRecord['headers'] = {};
      let hb = 0;
      for (const [k, v] of m.headers) {
        headers[k.toString()] = v;
        hb += k.length + (v?.length ?? 0);
      }
      const record: IncomingRecord = { offset: String(m.offset), timestamp: String(m.timestamp), key: m.key ?? null, value: m.value ?? null, headers };
      payloadBytes += (m.key?.length ?? 0) + (m.value?.length ?? 0) + hb;
      const d = decodeRecord(registry, m.topic, m.partition, record, loadTime);
      if (d.kind === 'row') sink += d.bytes;
      seen++;
      if (seen >= cfg.n) {
        end = { t: performance.now(), cpu: process.cpuUsage(), hr: hrUs() };
        done();
      }
    } catch (err) {
      fail(err);
    }
  });
  await finished;
  const maxRss = rss.stop();
  const r = baseResult(seen, end!.t - firstFetchAt!, diffCpu(end!.cpu, firstFetchCpu!), maxRss, [firstFetchHr!, end!.hr]);
  r.payloadBytes = payloadBytes;
  r.wall = roundWall(); // nothing wraps C′'s per-message work: inEachBatchMs stays 0 and is not reported
  r.startToFirstFetchMs = round(firstFetchAt! - runAt, 1);
  if (sink === 0) throw new Error('nothing decoded');
  await send({ type: 'result', result: r });
  // Untimed: leave the group and close; platformatic's close() can give up without closing its connections.
  const closing = (async () => {
    await (stream.close() as unknown as Promise<void>).catch(() => undefined);
    await (consumer.close(true) as unknown as Promise<void>).catch(() => consumer.connections.close() as unknown as Promise<void>);
  })();
  await Promise.race([closing.catch(() => undefined), new Promise((res) => setTimeout(res, 5000).unref())]);
  return r;
}

const diffCpu = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): NodeJS.CpuUsage => ({ user: a.user - b.user, system: a.system - b.system });

const OFFSETS_DDL = `CREATE TABLE IF NOT EXISTS "MULTIDISPATCH_OFFSETS" (GROUP_ID VARCHAR NOT NULL, TOPIC VARCHAR NOT NULL, "PARTITION" INTEGER NOT NULL, NEXT_OFFSET BIGINT NOT NULL, UPDATED_AT TIMESTAMP NOT NULL, PRIMARY KEY (GROUP_ID, TOPIC, "PARTITION"))`;

/** W: the same rows, pre-built, through the DuckDB appender in transactions of batchRows, one offsets UPDATE each. */
async function writeLimit(): Promise<ChildResult> {
  const lines = readFileSync(cfg.rowsFile, 'utf8').split('\n');
  const metadata: string[] = [];
  const content: string[] = [];
  for (let i = 0; i + 1 < lines.length; i += 2) {
    metadata.push(lines[i]!);
    content.push(lines[i + 1]!);
  }
  lines.length = 0;
  const n = metadata.length;
  if (n !== cfg.n) throw new Error(`rows file has ${n} rows, expected ${cfg.n}`);
  const table = tableNameForTopic(cfg.topic);
  const instance = await DuckDBInstance.create(cfg.dbPath);
  const c = await instance.connect();
  await c.run(OFFSETS_DDL);
  await c.run(`CREATE TABLE IF NOT EXISTS "${table}" (RECORD_METADATA JSON, RECORD_CONTENT JSON)`);
  for (let p = 0; p < 6; p++) await c.run(`INSERT INTO "MULTIDISPATCH_OFFSETS" VALUES ($1, $2, $3, 0, now()::TIMESTAMP)`, [cfg.group, cfg.topic, p]);
  await send({ type: 'ready' });
  await waitFor('go');
  (globalThis as { gc?: () => void }).gc?.();
  resetWall();
  const rss = rssSampler();
  const hr0 = hrUs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let transactions = 0;
  const next = new Array<number>(6).fill(0);
  for (let from = 0; from < n; from += cfg.batchRows) {
    const to = Math.min(n, from + cfg.batchRows);
    await c.run('BEGIN TRANSACTION');
    const appender = await c.createAppender(table);
    try {
      for (let i = from; i < to; i++) {
        appender.appendVarchar(metadata[i]!);
        appender.appendVarchar(content[i]!);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const p = transactions % 6;
    const expected = next[p]!;
    next[p] = expected + (to - from);
    const u = await c.run(
      `UPDATE "MULTIDISPATCH_OFFSETS" SET NEXT_OFFSET = CAST($4 AS BIGINT), UPDATED_AT = now()::TIMESTAMP WHERE GROUP_ID = $1 AND TOPIC = $2 AND "PARTITION" = $3 AND NEXT_OFFSET = CAST($5 AS BIGINT)`,
      [cfg.group, cfg.topic, p, String(next[p]), String(expected)],
    );
    if (u.rowsChanged !== 1) throw new Error('offsets UPDATE changed no row');
    await c.run('COMMIT');
    transactions++;
  }
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const hr1 = hrUs();
  const r = baseResult(n, elapsed, cpu, rss.stop(), [hr0, hr1]);
  r.fetchBatches = 0;
  r.transactions = transactions;
  r.wall = roundWall();
  await send({ type: 'result', result: r });
  const counted = await c.runAndReadAll(`SELECT count(*) AS n FROM "${table}"`);
  if (Number(counted.getRowObjects()[0]!.n) !== n) throw new Error('W: row count mismatch');
  c.closeSync();
  instance.closeSync();
  return r;
}

/** L (kafkajs), L′ (platformatic): createLoader(...).runOnce() into a fresh DuckDB file, default batch settings, exactly-once (always on). */
async function multidispatchLoad(client: 'kafkajs' | 'platformatic', target: 'duckdb' | 'lake' = 'duckdb'): Promise<ChildResult> {
  let firstCommit: number | undefined;
  let caughtUp: { t: number; cpu: NodeJS.CpuUsage; hr: number } | undefined;
  const loader = createLoader(
    {
      kafka: { brokers: [cfg.brokers], client },
      schema,
      topics: [cfg.topic],
      topicRenames: renames(),
      group: cfg.group,
      warehouse: target === 'lake' ? `lake:${cfg.dbPath}` : `duckdb:${cfg.dbPath}`,
      dlqTopic: `${cfg.topic}.dlq`,
    },
    {
      logger: pino({ name: 'bench-load', level: 'warn' }, pino.destination(2)),
      onProgress: (p) => {
        const t = performance.now();
        firstCommit ??= t;
        if (p.remaining === 0 && !caughtUp) caughtUp = { t, cpu: process.cpuUsage(), hr: hrUs() };
      },
    },
  );
  await send({ type: 'ready' });
  await waitFor('go');
  (globalThis as { gc?: () => void }).gc?.();
  resetWall();
  const rss = rssSampler();
  const hr0 = hrUs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stats = await loader.runOnce();
  const tEnd = performance.now();
  const end = caughtUp ?? { t: tEnd, cpu: process.cpuUsage(), hr: hrUs() };
  const r = baseResult(stats.rowsLoaded, end.t - t0, diffCpu(end.cpu, cpu0), rss.stop(), [hr0, end.hr]);
  r.transactions = stats.batches;
  r.loaderStats = stats;
  r.wall = roundWall();
  r.startToFirstFetchMs = firstFetchAt !== undefined ? round(firstFetchAt - t0, 1) : undefined;
  r.firstCommitMs = firstCommit !== undefined ? round(firstCommit - t0, 1) : undefined;
  r.caughtUpMs = round(end.t - t0, 1);
  r.runOnceMs = round(tEnd - t0, 1);
  if (firstFetchAt !== undefined && firstFetchCpu) {
    r.steadyRowsPerSec = round(stats.rowsLoaded / ((end.t - firstFetchAt) / 1000));
    r.steadyCpuUsPerRow = round(cpuUs(diffCpu(end.cpu, firstFetchCpu)) / stats.rowsLoaded, 2);
  }
  if (target === 'lake') {
    await lakeCheck(r, stats);
    await send({ type: 'result', result: r });
    return r;
  }
  // Correctness (untimed): exactly N rows, N distinct (partition, offset), stored offsets sum to N.
  const table = tableNameForTopic(cfg.topic);
  const instance = await DuckDBInstance.create(cfg.dbPath);
  const c = await instance.connect();
  const q = await c.runAndReadAll(
    `SELECT count(*) AS n, count(DISTINCT (RECORD_METADATA->>'$.partition', RECORD_METADATA->>'$.offset')) AS d FROM "${table}"`,
  );
  const row = q.getRowObjects()[0]!;
  const o = await c.runAndReadAll(`SELECT coalesce(sum(NEXT_OFFSET), 0) AS s FROM "MULTIDISPATCH_OFFSETS" WHERE GROUP_ID = $1 AND TOPIC = $2`, [cfg.group, cfg.topic]);
  const offsetsSum = Number(o.getRowObjects()[0]!.s);
  c.closeSync();
  instance.closeSync();
  const rows = Number(row.n);
  const distinct = Number(row.d);
  r.check = { rows, distinctPartitionOffset: distinct, offsetsSum, ok: rows === cfg.n && distinct === cfg.n && offsetsSum === cfg.n && stats.rowsLoaded === cfg.n };
  await send({ type: 'result', result: r });
  return r;
}

/** K (untimed): exactly N rows and N distinct (partition, offset) in the Parquet files, commit markers summing to N; file sizes. */
async function lakeCheck(r: ChildResult, stats: LoaderStats): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  const glob = `${cfg.dbPath}/**/*.parquet`.replace(/'/g, "''");
  const q = await c.runAndReadAll(`SELECT count(*) AS n, count(DISTINCT (_partition, _offset)) AS d FROM read_parquet('${glob}', union_by_name = true)`);
  const row = q.getRowObjects()[0]!;
  const per = await c.runAndReadAll(`SELECT filename AS f, count(*) AS n FROM read_parquet('${glob}', union_by_name = true, filename = true) GROUP BY filename`);
  const comp = await c.runAndReadAll(`SELECT DISTINCT compression AS c FROM parquet_metadata('${glob}')`);
  c.closeSync();
  instance.closeSync();
  const files = per.getRowObjects().map((x) => ({ file: String(x.f), rows: Number(x.n), bytes: statSync(String(x.f)).size }));
  const stat3 = (xs: number[]): [number, number, number] => {
    const s = [...xs].sort((a, b) => a - b);
    return [s[0] ?? 0, s[Math.floor(s.length / 2)] ?? 0, s[s.length - 1] ?? 0];
  };
  r.lake = {
    files: files.length,
    bytes: files.reduce((a, f) => a + f.bytes, 0),
    rowsPerFile: stat3(files.map((f) => f.rows)),
    bytesPerFile: stat3(files.map((f) => f.bytes)),
    compression: comp.getRowObjects().map((x) => String(x.c)).join(', '),
  };
  const lake = await openWarehouse(`lake:${cfg.dbPath}`);
  await lake.connect();
  const offsets = await lake.readOffsets(cfg.group, [cfg.topic]);
  await lake.close();
  const offsetsSum = [...offsets.values()].reduce((a, v) => a + Number(v), 0);
  const rows = Number(row.n);
  const distinct = Number(row.d);
  r.check = { rows, distinctPartitionOffset: distinct, offsetsSum, ok: rows === cfg.n && distinct === cfg.n && offsetsSum === cfg.n && stats.rowsLoaded === cfg.n };
}

async function main(): Promise<void> {
  switch (cfg.mode) {
    case 'prepare': {
      const r = await prepare();
      await send({ type: 'result', result: r });
      return;
    }
    case 'C':
      await consumeLimit();
      return;
    case 'W':
      await writeLimit();
      return;
    case 'Cp':
      await consumeLimitPlatformatic();
      return;
    case 'L':
      await multidispatchLoad('kafkajs');
      return;
    case 'Lp':
      await multidispatchLoad('platformatic');
      return;
    case 'K':
      await multidispatchLoad('kafkajs', 'lake');
      return;
  }
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    await send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }).catch(() => undefined);
    process.exit(1);
  },
);
