/**
 * One size of benchmarks/state, in its own process (so its peak RSS is its own): a derive task holding `size` live
 * keys (open 5-minute windows, one per restaurant), run as the runner runs it with --state-dir — the engine's
 * windows spilled to the LMDB local store with a cache of `cacheKeys` windows — and committed through the runner's
 * own pieces: the engine's changed keys, a Kafka transaction to a compacted changelog partition on the real
 * broker (sendChunked), the local store, `saved()`. Filled with a commit every `fillCommitKeys` new keys, as a
 * runner committing every second would. Then restored from the changelog alone (each batch written to a fresh
 * local store as it is read, then attached) and resumed from the local store with its checkpoint.
 *
 * Baseline in the same process: the whole-state commit (every live key written at every commit), as a state
 * design without per-key change tracking does.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createKafkaClient, kafkaConnectionSchema } from '../../src/kafka/client.js';
import type { OutgoingRecord as Message } from '../../src/kafka/port.js';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { MetricEngine } from '../../src/derive/engine.js';
import { LmdbTaskStore, RestoreWriter } from '../../src/derive/local-store.js';
import { sendChunked } from '../../src/derive/send.js';
import { readFromStart } from '../../src/kafka/topic-reader.js';
import { tumbling } from '../../src/derive/windows.js';
import { rng } from '../../src/demo/simulate.js';
import type { StateEntry } from '../../src/derive/state.js';
import { median, round } from '../lib/stats.js';

export interface ChildConfig { brokers: string; size: number; commits: number; baselineCommits: number; changedPerCommit: number; stateDir: string; cacheKeys: number; fillCommitKeys: number }
export interface Timing { ms: number; records: number; bytes: number }
export interface ChildResult {
  size: number;
  liveKeys: number;
  fillMs: number;
  /** The fill: every key new, committed every fillCommitKeys keys (the sum of those commits). */
  initial: Timing & { commits: number };
  /** Windows in memory at size (the cache), and windows read back from the store over the run. */
  cachedAtSize: number;
  misses: number;
  /** Steady commits (changedPerCommit events on existing keys): medians, and the parts of the time. */
  perKey: Timing & { changesMs: number; kafkaMs: number; localMs: number; runs: number };
  /** Baseline: every live key at every commit. */
  wholeState: Timing & { runs: number };
  restore: { records: number; keys: number; ms: number; keysPerSec: number; readMs: number; engineMs: number; peakRssMiB: number; peakAnonMiB?: number };
  resume: { ms: number; openMs: number; loadMs: number; tailMs: number; engineMs: number; tailRecords: number; keys: number };
  /** Peak over the derive paths: fill and per-key commits, restore, resume (not the baseline). */
  peakRssMiB: number;
  /** The same peak of anonymous memory only (RssAnon: no file-backed pages of the LMDB map). */
  peakAnonMiB?: number;
  /** Peak while the whole-state baseline commits ran (a 1M-entry snapshot and its messages at once). */
  baselinePeakRssMiB: number;
  rssAtSizeMiB: number;
  heapAtSizeMiB: number;
  changelogMaxRecordBytes: number;
}

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 18, 0, 0);

async function main(cfg: ChildConfig): Promise<ChildResult> {
  let peakRss = 0;
  // Anonymous memory (heap, malloc: LMDB's dirty pages of an open write transaction) apart from file-backed pages
  // (the memory-mapped LMDB file, which the kernel may drop and read again), from /proc/self/status.
  let peakAnon = 0;
  const anonKiB = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  const sample = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    peakAnon = Math.max(peakAnon, anonKiB() * 1024);
  }, 20);
  const metrics = defineMetrics(schema, [{ name: 'orders_5m', from: 'orders.v1.OrderPlaced', groupBy: ['restaurant_id'], window: tumbling('5m', { grace: '30s' }) }]);
  const event = (r: number, t: number) => ({ type: 'orders.v1.OrderPlaced', occurredAt: t, partition: 0, event: { orderId: 'o', restaurantId: `r-${r}`, market: 'GB', platform: 'IOS', context: { userId: 'u' }, total: { amountMinor: '100', currency: 'GBP' } } });
  const kafka = createKafkaClient(kafkaConnectionSchema.parse({ clientId: 'bench-state', brokers: [cfg.brokers] }));
  const topic = `bench-state-${cfg.size}-${randomBytes(3).toString('hex')}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
  const producer = kafka.producer({ transactionalId: `${topic}-agg-0`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const store = LmdbTaskStore.open(cfg.stateDir, 'bench');
  const engine = new MetricEngine(metrics, { idleMs: 0 });
  engine.attach(0, store.source('agg-0'), cfg.cacheKeys); // the runner's --state-dir path
  let maxRecord = 0;
  const toMessages = (entries: StateEntry[]): Message[] => entries.map(([key, value]) => {
    const v = value ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : null;
    maxRecord = Math.max(maxRecord, Buffer.byteLength(key) + (v?.length ?? 0));
    return { key, value: v, partition: 0 };
  });
  const bytesOf = (ms: Message[]) => ms.reduce((n, m) => n + Buffer.byteLength(m.key as string) + (m.value?.length ?? 0), 0);
  /** One commit as the runner makes it: the transaction, then the local store with the offset after it, then saved(). */
  const commit = async (entries: StateEntry[]) => {
    const messages = toMessages(entries);
    const a = performance.now();
    const tx = await producer.transaction();
    const end = await sendChunked(tx, topic, messages);
    await tx.commit();
    const b = performance.now();
    store.writeSync('agg-0', entries, String(end));
    engine.saved(0);
    return { kafkaMs: b - a, localMs: performance.now() - b, records: messages.length, bytes: bytesOf(messages) };
  };

  let wall = 0;
  const t0 = performance.now();
  const initial = { ms: 0, records: 0, bytes: 0, commits: 0 };
  for (let r = 0; r < cfg.size; r++) {
    engine.process(event(r, T0 + (r % 60_000)), ++wall);
    if ((r + 1) % cfg.fillCommitKeys !== 0 && r + 1 !== cfg.size) continue;
    const c0 = performance.now();
    const x = await commit(engine.changes(0));
    initial.ms += performance.now() - c0;
    initial.records += x.records;
    initial.bytes += x.bytes;
    initial.commits++;
  }
  const fillMs = performance.now() - t0;
  const liveKeys = engine.stateKeys(0);
  const cachedAtSize = engine.cacheStats(0).cached;
  const mem = process.memoryUsage();
  let c = performance.now();

  const steady: Array<{ ms: number; changesMs: number; kafkaMs: number; localMs: number; records: number; bytes: number }> = [];
  const random = rng(7);
  const next = () => Math.floor(random() * cfg.size);
  for (let i = 0; i < cfg.commits; i++) {
    for (let j = 0; j < cfg.changedPerCommit; j++) engine.process(event(next(), T0 + 60_000 + i), ++wall);
    c = performance.now();
    const entries = engine.changes(0);
    const changesMs = performance.now() - c;
    const r = await commit(entries);
    steady.push({ ms: performance.now() - c, changesMs, ...r });
  }
  const runningPeak = peakRss;
  const runningAnon = peakAnon;
  peakRss = 0;
  peakAnon = 0;
  const whole: Array<{ ms: number; records: number; bytes: number }> = [];
  for (let i = 0; i < cfg.baselineCommits; i++) {
    for (let j = 0; j < cfg.changedPerCommit; j++) engine.process(event(next(), T0 + 60_000 + i), ++wall);
    c = performance.now();
    engine.changes(0); // the change tracking is not what the baseline has: drop it, write everything
    const r = await commit(engine.snapshot(0));
    whole.push({ ms: performance.now() - c, records: r.records, bytes: r.bytes });
  }
  await producer.disconnect();
  const misses = engine.cacheStats(0).misses;
  await store.close();
  const baselinePeak = peakRss;
  peakRss = 0;
  peakAnon = 0;

  // Restore from the changelog only (a lost state dir, or a task that moved), the runner's path: every batch
  // written to a fresh local store as it is read (tombstones deleting), then the engine attached to it.
  c = performance.now();
  const fresh = LmdbTaskStore.open(cfg.stateDir, 'bench-restore');
  const writer = new RestoreWriter(fresh);
  let records = 0;
  const read = await readFromStart(kafka, { topics: [topic], group: `${topic}-restore`, follow: false }, (batch) => {
    const entries: StateEntry[] = batch.messages.map((m) => [m.key!.toString(), m.value]);
    records += entries.length;
    writer.add('agg-0', entries, String(BigInt(batch.messages.at(-1)!.offset) + 1n));
  });
  await read.caughtUp;
  await read.consumer?.disconnect();
  writer.flush(new Map([['agg-0', String(read.ends.get(`${topic}:0`) ?? 0n)]]));
  const readMs = performance.now() - c;
  const restored = new MetricEngine(metrics, { idleMs: 0 });
  const e0 = performance.now();
  restored.attach(0, fresh.source('agg-0'), cfg.cacheKeys);
  const engineMs = performance.now() - e0;
  const restoreMs = performance.now() - c;
  if (restored.stateKeys(0) !== liveKeys) throw new Error(`restored ${restored.stateKeys(0)} keys from the changelog, expected ${liveKeys}`);
  await fresh.close();
  const restorePeak = peakRss;
  const restoreAnon = peakAnon;

  // Resume after a clean stop: the local store and the changelog after its checkpoint.
  c = performance.now();
  const reopened = LmdbTaskStore.open(cfg.stateDir, 'bench');
  const openMs = performance.now() - c;
  const copy = reopened.load('agg-0')!;
  const loadMs = performance.now() - c - openMs;
  const t1 = performance.now();
  let tailRecords = 0;
  const tailWriter = new RestoreWriter(reopened);
  const tail = await readFromStart(kafka, { topics: [topic], group: `${topic}-resume`, follow: false, from: new Map([[`${topic}:0`, BigInt(copy.checkpoint.offset)]]) }, (batch) => {
    const entries: StateEntry[] = batch.messages.map((m) => [m.key!.toString(), m.value]);
    tailRecords += entries.length;
    tailWriter.add('agg-0', entries, String(BigInt(batch.messages.at(-1)!.offset) + 1n));
  });
  await tail.caughtUp;
  await tail.consumer?.disconnect();
  tailWriter.flush();
  const tailMs = performance.now() - t1;
  const t2 = performance.now();
  const resumed = new MetricEngine(metrics, { idleMs: 0 });
  resumed.attach(0, reopened.source('agg-0'), cfg.cacheKeys); // the runner's path: windows stay in the store
  const resumeEngineMs = performance.now() - t2;
  const resumeMs = performance.now() - c;
  if (resumed.stateKeys(0) !== liveKeys) throw new Error(`resumed ${resumed.stateKeys(0)} keys, expected ${liveKeys}`);
  await reopened.close();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  clearInterval(sample);
  rmSync(join(cfg.stateDir, 'bench'), { recursive: true, force: true });
  rmSync(join(cfg.stateDir, 'bench-restore'), { recursive: true, force: true });

  const med = (xs: number[]) => round(median(xs), 1);
  return {
    size: cfg.size, liveKeys, fillMs: round(fillMs), initial: { ms: round(initial.ms), records: initial.records, bytes: initial.bytes, commits: initial.commits }, cachedAtSize, misses,
    perKey: { ms: med(steady.map((s) => s.ms)), changesMs: med(steady.map((s) => s.changesMs)), kafkaMs: med(steady.map((s) => s.kafkaMs)), localMs: med(steady.map((s) => s.localMs)),
      records: med(steady.map((s) => s.records)), bytes: med(steady.map((s) => s.bytes)), runs: steady.length },
    wholeState: { ms: med(whole.map((s) => s.ms)), records: med(whole.map((s) => s.records)), bytes: med(whole.map((s) => s.bytes)), runs: whole.length },
    restore: { records, keys: liveKeys, ms: round(restoreMs), keysPerSec: round(liveKeys / (restoreMs / 1000)), readMs: round(readMs), engineMs: round(engineMs), peakRssMiB: round(restorePeak / 2 ** 20), peakAnonMiB: round(restoreAnon / 2 ** 20) },
    resume: { ms: round(resumeMs), openMs: round(openMs), loadMs: round(loadMs), tailMs: round(tailMs), engineMs: round(resumeEngineMs), tailRecords, keys: liveKeys },
    peakRssMiB: round(Math.max(runningPeak, restorePeak, peakRss) / 2 ** 20), peakAnonMiB: round(Math.max(runningAnon, restoreAnon, peakAnon) / 2 ** 20), baselinePeakRssMiB: round(baselinePeak / 2 ** 20), rssAtSizeMiB: round(mem.rss / 2 ** 20), heapAtSizeMiB: round(mem.heapUsed / 2 ** 20), changelogMaxRecordBytes: maxRecord,
  };
}

process.once('message', (cfg: ChildConfig) => {
  main(cfg).then(
    (r) => process.send!({ type: 'result', result: r }, () => process.exit(0)),
    (err: Error) => process.send!({ type: 'error', error: err.stack ?? err.message }, () => process.exit(1)),
  );
});
