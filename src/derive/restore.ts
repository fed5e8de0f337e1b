/**
 * Restoring the state of the tasks an instance is given (at start, or when a rebalance moves them here): from
 * their changelog partition and, with --state-dir, from the local copy kept since the last run. A restore is a
 * pass of its own over the changelog, with its own consumer and progress watch, so it lives apart from the
 * runner, which hands it everything it uses.
 */
import type { EachBatchContext, KafkaAdmin, KafkaClient } from '../kafka/port.js';
import { RestoreWriter, type TaskStateStore } from './local-store.js';
import { liveEntries, type StateEntry } from './state.js';
import { taskId, type Task, type TaskDeps } from './task.js';
import { readFromStart } from '../kafka/topic-reader.js';

/** The counters of the runner's stats a restore adds to (DeriveRunner.stats says what they count). */
export interface RestoreStats {
  restoredRecords: number;
  restoredKeys: number;
  restoreMs: number;
  localKeys: number;
  localMs: number;
  fullRestores: number;
}

export interface RestoreDeps extends TaskDeps {
  kafka: KafkaClient;
  admin: KafkaAdmin;
  /** A local copy older than this may miss deletes that compaction has since removed (the changelog's delete.retention.ms). */
  maxLocalAgeMs: number;
  /** DeriveOptions.stateCacheKeys, for the engine that reads its windows from the store. */
  stateCacheKeys: number | undefined;
  stats: RestoreStats;
}

export class TaskRestorer {
  constructor(private readonly deps: RestoreDeps) {}

  /**
   * Restores the state of new tasks: from the local state store (with --state-dir) and the changelog records
   * after its checkpoint, or, without a usable local copy, from the whole changelog partition — the latest record
   * per key (read_committed), tombstones deleting. Progress is logged every 2 s; a read that makes no progress for
   * 60 s fails. The local copy is brought up to the end of the changelog before the task starts.
   */
  async restore(kind: Task['kind'], partitions: number[]): Promise<void> {
    if (this.deps.store) return this.restoreLocal(kind, partitions, this.deps.store);
    const engine = this.deps.engines[kind]!;
    const topic = this.deps.changelogTopics[kind];
    const t0 = Date.now();
    this.deps.setStage(`restoring ${topic} partition(s) ${partitions.join(',')}`);
    const changed = new Map<number, Map<string, Uint8Array | null>>(partitions.map((p) => [p, new Map()]));
    const read = await this.readChangelog(topic, partitions, new Map(), (batch) => {
      const keys = changed.get(batch.partition)!;
      for (const m of batch.messages) {
        const key = m.key?.toString();
        if (key) keys.set(key, m.value);
      }
    }, () => [...changed.values()].reduce((n, m) => n + m.size, 0));
    let keys = 0;
    for (const p of partitions) {
      // The latest record of every key of the whole partition, streamed into the engine.
      const counted = { n: 0 };
      try {
        engine.restore(p, liveEntries(changed.get(p)!, counted));
      } catch (err) {
        throw new Error(`restoring ${topic} partition ${p}: a changelog record cannot be read: ${(err as Error).message}`, { cause: err });
      }
      keys += counted.n;
    }
    this.restored(kind, topic, partitions, [], read.records, keys, Date.now() - t0);
  }

  /**
   * With --state-dir: each task's local copy is brought up to the end of its changelog partition — the records
   * after its checkpoint, or, without a usable copy, the whole partition — applied to the store in large chunks
   * as they are read (RestoreWriter: each chunk with its offset as the checkpoint, so a restore cut off half way
   * resumes there).
   * The engine then reads its windows from the store on demand.
   */
  private async restoreLocal(kind: Task['kind'], partitions: number[], store: TaskStateStore): Promise<void> {
    const engine = this.deps.engines[kind]!;
    const topic = this.deps.changelogTopics[kind];
    const t0 = Date.now();
    this.deps.setStage(`restoring ${topic} partition(s) ${partitions.join(',')}`);
    const from = new Map<string, bigint>();
    const local = new Set<number>();
    const highs = new Map((await this.deps.admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
    for (const p of partitions) {
      const id = taskId(kind, p);
      const copy = store.load(id);
      if (copy) {
        const offset = BigInt(copy.checkpoint.offset);
        const age = Date.now() - copy.checkpoint.at;
        const why =
          offset > (highs.get(p) ?? 0n) ? `its checkpoint (offset ${offset}) is past the end of ${topic} partition ${p} (${highs.get(p)}): the topic was recreated`
          : age > this.deps.maxLocalAgeMs ? `it is ${Math.round(age / 60_000)} min old, older than the changelog keeps deletes (delete.retention.ms ${this.deps.maxLocalAgeMs})`
          : undefined;
        if (!why) {
          from.set(`${topic}:${p}`, offset);
          local.add(p);
          continue;
        }
        this.deps.log.warn({ task: id, reason: why }, 'local state not used; rebuilding the task from its changelog');
      }
      await store.clear(id);
      this.deps.stats.fullRestores++;
    }
    this.deps.stats.localMs += Date.now() - t0;
    const writer = new RestoreWriter(store);
    let applied = 0;
    const read = await this.readChangelog(topic, partitions, from, (batch) => {
      const entries: StateEntry[] = [];
      for (const m of batch.messages) if (m.key && m.key.length > 0) entries.push([m.key.toString(), m.value]);
      const last = batch.messages.at(-1);
      if (last) writer.add(taskId(kind, batch.partition), entries, String(BigInt(last.offset) + 1n));
      applied += entries.length;
    }, () => applied);
    // The rest, and every checkpoint past the transaction markers at the end of its partition.
    writer.flush(new Map(partitions.flatMap((p) => {
      const end = read.ends.get(`${topic}:${p}`);
      return end === undefined ? [] : [[taskId(kind, p), String(end)] as [string, string]];
    })));
    let keys = 0;
    const retry: number[] = [];
    for (const p of partitions) {
      const id = taskId(kind, p);
      try {
        engine.attach(p, store.source(id), this.deps.stateCacheKeys);
      } catch (err) {
        if (!local.has(p)) throw new Error(`restoring ${topic} partition ${p}: a changelog record cannot be read: ${(err as Error).message}`, { cause: err });
        this.deps.log.warn({ task: id, err: (err as Error).message }, 'local state cannot be read; rebuilding the task from its changelog');
        await store.clear(id);
        retry.push(p);
        continue;
      }
      const n = engine.stateKeys(p);
      keys += n;
      if (local.has(p)) this.deps.stats.localKeys += n;
    }
    this.restored(kind, topic, partitions, [...local].filter((p) => !retry.includes(p)), read.records, keys, Date.now() - t0);
    if (retry.length > 0) await this.restoreLocal(kind, retry, store);
  }

  /**
   * Reads changelog partitions from `from` (else their beginning) to the end seen now, read_committed, handing
   * every batch to `onBatch`; progress every 2 s, and a read that makes no progress for 60 s fails.
   */
  private async readChangelog(
    topic: string, partitions: number[], from: Map<string, bigint>,
    onBatch: (batch: EachBatchContext['batch']) => void, keysSoFar: () => number,
  ): Promise<{ records: number; ends: Map<string, bigint> }> {
    let records = 0;
    const { consumer, caughtUp, ends } = await readFromStart(this.deps.kafka, { topics: [topic], group: `${this.deps.group}-restore`, follow: false, partitions: new Set(partitions), from }, (batch) => {
      records += batch.messages.length;
      onBatch(batch);
    });
    let seen = 0;
    let stalledSince = Date.now();
    let stall: (err: Error) => void = () => undefined;
    const stalled = new Promise<never>((_, reject) => (stall = reject));
    const progress = setInterval(() => {
      if (records > seen) [seen, stalledSince] = [records, Date.now()];
      else if (Date.now() - stalledSince > 60_000) stall(new Error(`restoring ${topic} partition(s) ${partitions.join(',')}: no progress for 60 s`));
      this.deps.log.info({ topic, partitions, changelogRecordsRead: records, keys: keysSoFar() }, 'restoring state from the changelog');
    }, 2000);
    try {
      await Promise.race([caughtUp, stalled]);
    } finally {
      clearInterval(progress);
      await consumer?.disconnect().catch(() => undefined);
    }
    return { records, ends };
  }

  private restored(kind: Task['kind'], topic: string, partitions: number[], fromLocal: number[], read: number, keys: number, ms: number): void {
    this.deps.stats.restoredRecords += read;
    this.deps.stats.restoredKeys += keys;
    this.deps.stats.restoreMs += ms;
    this.deps.prometheus.restoredRecords.inc(read);
    this.deps.prometheus.restoreSeconds.inc(ms / 1000);
    this.deps.log.info({ kind, topic, partitions, fromLocal, changelogRecordsRead: read, keys, ms }, 'state restored');
  }
}
