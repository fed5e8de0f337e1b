/**
 * The port's eachBatch consumer on @platformatic/kafka. platformatic's own consumer API is a stream of single
 * messages (no batch boundaries, no control-record offsets, no high watermark, no seek, no per-partition pause), so
 * this adapter uses only its group membership (JoinGroup/SyncGroup/heartbeats, rejoin on rebalance) and its Fetch,
 * and runs the fetch loop itself: one fetch per partition leader, each partition's records handed to eachBatch as one
 * batch, one batch at a time (partitionsConsumedConcurrently 1).
 *
 * Positions: after each join every assigned partition starts at the group's committed offset (else earliest or
 * latest, from subscribe's fromBeginning), as kafkajs does; resolveOffset moves it past a record; seek sets it and
 * makes batches fetched before stale; a batch with only control records or aborted records moves it past them by
 * itself and still fires onBatchEnd. read_committed drops aborted records the way the Java client does (aborted
 * transactions from the fetch response, ended by their ABORT markers).
 *
 * One difference from kafkajs remains: platformatic rejoins the group from its heartbeat timer, while a batch may still
 * be in eachBatch; isStale() turns true as soon as the rebalance starts (onRebalancing), so a handler that checks it
 * stops early, but the rejoin does not wait for it.
 */
import { Consumer, ConnectionPool, FetchIsolationLevels, type Connection } from '@platformatic/kafka';
import type { KafkaConnection } from '../client.js';
import type { BatchEnd, ConsumerOptions, ConsumerRunOptions, EachBatchContext, IncomingRecord, KafkaConsumer, RecordBatch, TopicPartitionOffset } from '../port.js';
import { platformaticOptions } from './client.js';
import { isRetriable, portError } from './errors.js';

const IS_TRANSACTIONAL = 0x10;
const IS_CONTROL = 0x20;
const LOG_APPEND_TIME = 0x08;

interface RawRecord {
  offsetDelta: number;
  timestampDelta: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[Buffer | null, Buffer | null]>;
}

interface RawBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  firstTimestamp: bigint;
  maxTimestamp: bigint;
  attributes: number;
  producerId: bigint;
  records: RawRecord[];
}

interface RawPartition {
  partitionIndex: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  abortedTransactions: Array<{ producerId: bigint; firstOffset: bigint }> | null;
  records?: RawBatch[];
}

interface RawFetchResponse {
  responses: Array<{ topicId?: string; topic?: string; name?: string; partitions: RawPartition[] }>;
}

const key = (topic: string, partition: number) => `${topic}:${partition}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The records of a partition's fetch a read_committed consumer may see (the Java client's algorithm). */
export function committedBatches(p: RawPartition, readCommitted: boolean): RawBatch[] {
  const batches = p.records ?? [];
  if (!readCommitted || !p.abortedTransactions?.length) return batches.filter((b) => !(b.attributes & IS_CONTROL));
  const pending = [...p.abortedTransactions].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const aborted = new Set<bigint>();
  const out: RawBatch[] = [];
  for (const b of batches) {
    const last = b.firstOffset + BigInt(b.lastOffsetDelta);
    while (pending.length > 0 && pending[0]!.firstOffset <= last) aborted.add(pending.shift()!.producerId);
    if (b.attributes & IS_CONTROL) {
      // Control record key: version (int16), type (int16): 0 ABORT, 1 COMMIT.
      if (b.records[0]?.key?.readInt16BE(2) === 0) aborted.delete(b.producerId);
      continue;
    }
    if (b.attributes & IS_TRANSACTIONAL && aborted.has(b.producerId)) continue;
    out.push(b);
  }
  return out;
}

function toRecords(batches: RawBatch[], from: bigint): IncomingRecord[] {
  const out: IncomingRecord[] = [];
  for (const b of batches) {
    for (const r of b.records) {
      const offset = b.firstOffset + BigInt(r.offsetDelta);
      if (offset < from) continue;
      const headers: IncomingRecord['headers'] = {};
      for (const [hk, hv] of r.headers) {
        const name = hk ? hk.toString() : '';
        const value = hv ?? undefined;
        const prev = headers[name];
        if (prev === undefined) headers[name] = value;
        else if (value !== undefined) headers[name] = Array.isArray(prev) ? [...prev, value] : [prev, value];
      }
      out.push({
        offset: String(offset),
        timestamp: String(b.attributes & LOG_APPEND_TIME ? b.maxTimestamp : b.firstTimestamp + r.timestampDelta),
        key: r.key,
        value: r.value,
        headers,
      });
    }
  }
  return out;
}

export class PlatformaticConsumer implements KafkaConsumer {
  private readonly consumer: Consumer;
  private readonly pool: ConnectionPool;
  private readonly readCommitted: boolean;
  private readonly maxWait: number;
  private readonly maxBytes: number;
  private readonly maxBytesPerPartition: number;
  private readonly groupOptions: { sessionTimeout: number; rebalanceTimeout: number; heartbeatInterval: number };
  private topics: string[] = [];
  private fromBeginning = false;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Bumped on every rebalance and join: batches fetched before are stale. */
  private generation = 0;
  private joining: Promise<void> | undefined;
  private assignment = new Map<string, number[]>();
  private readonly positions = new Map<string, bigint>();
  private readonly seekEpochs = new Map<string, number>();
  private readonly pendingSeeks = new Map<string, bigint>();
  private readonly paused = new Set<string>();
  private readonly listeners = {
    join: [] as Array<(a: Record<string, number[]>) => void>,
    rebalancing: [] as Array<() => void>,
    crash: [] as Array<(e: Error, restart: boolean) => void>,
    batchEnd: [] as Array<(e: BatchEnd) => void>,
  };

  constructor(conn: KafkaConnection, options: ConsumerOptions) {
    this.readCommitted = !(options.readUncommitted ?? false);
    this.maxWait = options.maxWaitTimeInMs ?? 5000;
    this.maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.maxBytesPerPartition = options.maxBytesPerPartition ?? 1024 * 1024;
    this.groupOptions = {
      sessionTimeout: options.sessionTimeout ?? 30_000,
      rebalanceTimeout: options.rebalanceTimeout ?? 60_000,
      heartbeatInterval: options.heartbeatInterval ?? 3000,
    };
    const base = platformaticOptions(conn);
    this.consumer = new Consumer({
      ...base,
      groupId: options.groupId,
      autocommit: false,
      isolationLevel: this.readCommitted ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED,
      maxWaitTime: this.maxWait,
      maxBytes: this.maxBytes,
      minBytes: 1,
      ...this.groupOptions,
    });
    // Fetches (long polls) on their own connections, so that heartbeats and group requests are never queued behind one.
    this.pool = new ConnectionPool(conn.clientId, { ...base, context: undefined });
    this.consumer.on('consumer:group:rebalance', () => {
      this.generation++;
      for (const l of this.listeners.rebalancing) l();
    });
    this.consumer.on('consumer:group:join', (payload) => {
      this.joining = this.onJoin(payload.assignments ?? []);
      this.joining.catch((err) => this.crash(err, false));
    });
    // platformatic emits 'error' when a rejoin failed for good; without a listener that would throw.
    this.consumer.on('error', (err: Error) => this.crash(err, false));
  }

  private crash(err: unknown, restart: boolean): void {
    const e = portError(err) as Error;
    if (!restart) {
      this.running = false;
      this.wake?.();
    }
    for (const l of this.listeners.crash) l(e, restart);
  }

  private async onJoin(assignments: Array<{ topic: string; partitions: number[] }>): Promise<void> {
    const generation = ++this.generation;
    const assigned = assignments.filter((a) => a.partitions.length > 0);
    const positions = new Map<string, bigint>();
    if (assigned.length > 0) {
      const committed = await this.consumer.listCommittedOffsets({ topics: assigned });
      const missing = new Map<string, number[]>();
      for (const { topic, partitions } of assigned) {
        for (const p of partitions) {
          const c = committed.get(topic)?.[p];
          if (c !== undefined && c >= 0n) positions.set(key(topic, p), c);
          else missing.set(topic, [...(missing.get(topic) ?? []), p]);
        }
      }
      if (missing.size > 0) {
        const reset = await this.consumer.listOffsets({
          topics: [...missing.keys()],
          partitions: Object.fromEntries(missing),
          timestamp: this.fromBeginning ? -2n : -1n,
        });
        for (const [topic, partitions] of missing) for (const p of partitions) positions.set(key(topic, p), reset.get(topic)![p]!);
      }
    }
    if (generation !== this.generation) return;
    this.assignment = new Map(assignments.map((a) => [a.topic, [...a.partitions].sort((x, y) => x - y)]));
    this.positions.clear();
    for (const [k, v] of positions) this.positions.set(k, v);
    for (const [k, v] of this.pendingSeeks) {
      if (this.positions.has(k)) {
        this.positions.set(k, v);
        this.pendingSeeks.delete(k);
      }
    }
    const view: Record<string, number[]> = {};
    for (const [t, ps] of this.assignment) view[t] = [...ps];
    for (const l of this.listeners.join) l(view);
    this.wake?.();
  }

  async connect(): Promise<void> {
    try {
      await this.consumer.metadata({ topics: [] });
    } catch (err) {
      // A failed connect leaves nothing open.
      await (this.consumer.connections.close() as unknown as Promise<void>).catch(() => undefined);
      throw portError(err);
    }
  }

  async subscribe(request: { topics: string[]; fromBeginning: boolean }): Promise<void> {
    this.fromBeginning = request.fromBeginning;
    for (const t of request.topics) {
      if (!this.topics.includes(t)) this.topics.push(t);
      this.consumer.topics.track(t);
    }
  }

  async run(options: ConsumerRunOptions): Promise<void> {
    if ((options.partitionsConsumedConcurrently ?? 1) !== 1) throw new Error('the platformatic adapter consumes one partition at a time (partitionsConsumedConcurrently 1)');
    if (options.autoCommit) throw new Error('the platformatic adapter does not commit by itself (autoCommit false): commit with commitOffsets');
    try {
      await this.consumer.metadata({ topics: this.topics });
      await this.consumer.joinGroup({ ...this.groupOptions });
      await this.joining;
    } catch (err) {
      throw portError(err);
    }
    this.running = true;
    this.loop = this.fetchLoop(options);
  }

  private isPaused(topic: string, partition: number): boolean {
    return this.paused.has(key(topic, partition)) || this.paused.has(`${topic}:*`);
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async fetchLoop(options: ConsumerRunOptions): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        if (this.joining) await this.joining;
        const worked = await this.fetchOnce(options);
        failures = 0;
        if (!worked && this.running) await this.idle(Math.min(this.maxWait, 100));
      } catch (err) {
        if (!this.running) break;
        if (!isRetriable(err)) {
          this.crash(err, false);
          break;
        }
        if (++failures >= 5) this.crash(err, true);
        this.consumer.clearMetadata();
        await this.idle(Math.min(200 * failures, 2000));
      }
    }
  }

  /** One round of fetches (one per leader) and their batches; false when there was nothing to fetch. */
  private async fetchOnce(options: ConsumerRunOptions): Promise<boolean> {
    const generation = this.generation;
    const wanted: Array<{ topic: string; partition: number; offset: bigint }> = [];
    for (const [topic, partitions] of this.assignment) {
      for (const partition of partitions) {
        const offset = this.positions.get(key(topic, partition));
        if (offset !== undefined && !this.isPaused(topic, partition)) wanted.push({ topic, partition, offset });
      }
    }
    if (wanted.length === 0) return false;
    const metadata = await this.consumer.metadata({ topics: [...new Set(wanted.map((w) => w.topic))] });
    const byLeader = new Map<number, typeof wanted>();
    for (const w of wanted) {
      const leader = metadata.topics.get(w.topic)!.partitions[w.partition]!.leader;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), w]);
    }
    const seekEpochs = new Map(wanted.map((w) => [key(w.topic, w.partition), this.seekEpochs.get(key(w.topic, w.partition)) ?? 0]));
    const results = await Promise.all([...byLeader].map(async ([leader, list]) => {
      const topics = new Map<string, { topicId: string; topic: string; partitions: unknown[] }>();
      for (const w of list) {
        let t = topics.get(w.topic);
        if (!t) topics.set(w.topic, (t = { topicId: metadata.topics.get(w.topic)!.id, topic: w.topic, partitions: [] }));
        t.partitions.push({ partition: w.partition, fetchOffset: w.offset, partitionMaxBytes: this.maxBytesPerPartition, currentLeaderEpoch: -1, lastFetchedEpoch: -1 });
      }
      try {
        const response = (await this.consumer.fetch({
          node: leader,
          topics: [...topics.values()] as never,
          connectionPool: this.pool,
          maxWaitTime: this.maxWait,
          maxBytes: this.maxBytes,
          minBytes: 1,
          // READ_UNCOMMITTED here would make the broker return open transactions; the broker must filter by LSO.
          isolationLevel: this.readCommitted ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED,
        })) as unknown as RawFetchResponse;
        return { list, response };
      } catch (err) {
        await this.recoverOutOfRange(err, list);
        throw err;
      }
    }));
    const idToTopic = new Map([...metadata.topics].map(([name, t]) => [t.id, name]));
    let delivered = false;
    for (const { list, response } of results) {
      const fetched = new Map(list.map((w) => [key(w.topic, w.partition), w.offset]));
      for (const t of response.responses) {
        const topic = (t.topicId && idToTopic.get(t.topicId)) || t.topic || t.name!;
        for (const p of t.partitions) {
          if (!this.running || generation !== this.generation) return true;
          const k = key(topic, p.partitionIndex);
          const fetchedOffset = fetched.get(k);
          if (fetchedOffset === undefined || this.isPaused(topic, p.partitionIndex) || (this.seekEpochs.get(k) ?? 0) !== seekEpochs.get(k)) continue;
          const all = p.records ?? [];
          if (all.length === 0) continue;
          const lastBatch = all[all.length - 1]!;
          const lastOffset = lastBatch.firstOffset + BigInt(lastBatch.lastOffsetDelta);
          if (lastOffset < fetchedOffset) continue;
          const messages = toRecords(committedBatches(p, this.readCommitted), fetchedOffset);
          const end: BatchEnd = { topic, partition: p.partitionIndex, lastOffset: String(lastOffset), highWatermark: String(p.highWatermark) };
          delivered = true;
          if (messages.length === 0) {
            // Only control records (transaction markers) or aborted records: move past them, as kafkajs does.
            this.positions.set(k, lastOffset + 1n);
            for (const l of this.listeners.batchEnd) l(end);
            continue;
          }
          const epoch = seekEpochs.get(k);
          const isStale = () => generation !== this.generation || (this.seekEpochs.get(k) ?? 0) !== epoch || !this.positions.has(k);
          const batch: RecordBatch = {
            topic,
            partition: p.partitionIndex,
            highWatermark: String(p.highWatermark),
            messages,
            lastOffset: () => String(lastOffset),
            fetchedOffset: String(fetchedOffset),
          };
          const ctx: EachBatchContext = {
            batch,
            resolveOffset: (offset) => {
              if (!isStale()) this.positions.set(k, BigInt(offset) + 1n);
            },
            heartbeat: async () => undefined,
            isRunning: () => this.running,
            isStale,
          };
          try {
            await options.eachBatch(ctx);
          } catch (err) {
            // As kafkajs: the batch's unresolved records are fetched again after a pause.
            this.crash(err, true);
            await this.idle(1000);
            return true;
          }
          if (options.eachBatchAutoResolve && !isStale()) this.positions.set(k, lastOffset + 1n);
          for (const l of this.listeners.batchEnd) l(end);
        }
      }
    }
    return delivered;
  }

  /** OFFSET_OUT_OF_RANGE (the position fell below the log start, retention): start again at earliest or latest. */
  private async recoverOutOfRange(err: unknown, list: Array<{ topic: string; partition: number }>): Promise<void> {
    const response = (err as { response?: RawFetchResponse }).response;
    if (!response || (portError(err) as { type?: string }).type !== 'OFFSET_OUT_OF_RANGE') return;
    const topics = [...new Set(list.map((w) => w.topic))];
    const reset = await this.consumer.listOffsets({ topics, timestamp: this.fromBeginning ? -2n : -1n });
    for (const t of response.responses) {
      for (const p of t.partitions) {
        if (p.errorCode !== 1) continue;
        for (const w of list) {
          if (w.partition === p.partitionIndex && reset.get(w.topic)?.[w.partition] !== undefined) this.positions.set(key(w.topic, w.partition), reset.get(w.topic)![w.partition]!);
        }
      }
    }
  }

  seek(position: TopicPartitionOffset): void {
    const k = key(position.topic, position.partition);
    this.seekEpochs.set(k, (this.seekEpochs.get(k) ?? 0) + 1);
    const offset = BigInt(position.offset);
    if (this.positions.has(k)) this.positions.set(k, offset);
    else this.pendingSeeks.set(k, offset);
    this.wake?.();
  }

  pause(partitions: Array<{ topic: string; partitions?: number[] }>): void {
    for (const { topic, partitions: ps } of partitions) {
      if (ps === undefined) this.paused.add(`${topic}:*`);
      else for (const p of ps) this.paused.add(key(topic, p));
    }
  }

  resume(partitions: Array<{ topic: string; partitions?: number[] }>): void {
    for (const { topic, partitions: ps } of partitions) {
      if (ps === undefined) {
        for (const k of [...this.paused]) if (k.startsWith(`${topic}:`)) this.paused.delete(k);
      } else for (const p of ps) this.paused.delete(key(topic, p));
    }
    this.wake?.();
  }

  async commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    try {
      await this.consumer.commit({ offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset), leaderEpoch: -1 })) });
    } catch (err) {
      throw portError(err);
    }
  }

  onGroupJoin(listener: (assignment: Record<string, number[]>) => void): void {
    this.listeners.join.push(listener);
  }

  onRebalancing(listener: () => void): void {
    this.listeners.rebalancing.push(listener);
  }

  onCrash(listener: (error: Error, restart: boolean) => void): void {
    this.listeners.crash.push(listener);
  }

  onBatchEnd(listener: (end: BatchEnd) => void): void {
    this.listeners.batchEnd.push(listener);
  }

  async stop(): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    this.wake?.();
    await this.loop?.catch(() => undefined);
    this.loop = undefined;
    if (wasRunning || this.consumer.memberId) await (this.consumer.leaveGroup(true) as unknown as Promise<void>).catch(() => undefined);
  }

  async disconnect(): Promise<void> {
    await this.stop();
    await this.pool.close().catch(() => undefined);
    await (this.consumer.close(true) as unknown as Promise<void>).catch(async () => {
      // platformatic's close() leaves the group first and, when that fails (the member already left, or the
      // coordinator moved), gives up without closing its connections: close them here, or the process stays up.
      await (this.consumer.connections.close() as unknown as Promise<void>).catch(() => undefined);
    });
  }
}

export type { Connection };
