import type { EachBatchContext, IncomingRecord, KafkaAdmin, KafkaClient, KafkaConsumer } from '../kafka/port.js';
import { channels, stderrLogger, type Logger } from '../log.js';
import { ensureTopics, missingTopics } from '../kafka/admin.js';
import { createKafkaClient } from '../kafka/client.js';
import { kafkaConnectionSchema } from '../kafka/client.js';
import { parseOptions } from '../config/parse.js';
import { TopologyError } from '../errors.js';
import { HEADER } from '../schema/envelope.js';
import { EventRegistry } from '../schema/registry.js';
import type { ResolvedMetric, ResolvedTable } from './definitions.js';
import { emptyOutput, MetricEngine, type EngineOutput, type MetricInput } from './engine.js';
import { TableState } from './tables.js';
import { readFromStart } from '../kafka/topic-reader.js';
import { LmdbTaskStore, type TaskStateStore } from './local-store.js';
import { DerivePrometheus, type Probe } from './prometheus.js';
import { StreamClock } from './windows.js';
import { isFenced, taskId, type JoinWatermark, type Task, type TaskDeps, type Watermark } from './task.js';
import { runnerOptionsSchema, type DeriveOptions } from './options.js';
import { TaskRestorer } from './restore.js';
import { TaskCommitter } from './commit.js';
import { HotShotsSink } from '../sinks/statsd/sink.js';

export type { DeriveOptions } from './options.js';

/** How long one step (a batch, a commit, a restore's request) may take before the runner gives up on it. */
const STALL_MS = 120_000;

/**
 * The derived-metric consumer. Two stages, like a KafkaClient Streams topology with a `groupBy`:
 *
 * 1. Source tasks (one per input partition number) decode events, join them with tables, filter and group
 *    them, and write one small record per (event, metric) to `<group>-repartition`, keyed by metric and group
 *    (or join key), so every value of a group lands in one partition whatever partition the event came from.
 * 2. Aggregate tasks (one per repartition partition) keep windows, absence joins and alert states, and emit
 *    values when windows close.
 *
 * Every task commits in ONE KafkaClient transaction per commit interval: what it produced (repartition records,
 * metric values, alerts), one changelog record per state key it changed since the last commit (a tombstone for
 * a key it forgot) to partition p of the compacted `<group>-changelog` (source tasks with state: of
 * `<group>-src-changelog`), and the offsets it consumed. Each task has its own transactional producer
 * (`<group>-<src|agg>-<partition>`), so a new owner fences the previous one. On assignment, tasks with state
 * restore it from their changelog partition (the latest record per key).
 * Tables are read whole from their (compacted) topics before input is processed, and followed afterwards.
 */
export class DeriveRunner {
  private readonly kafka: KafkaClient;
  private readonly registry: EventRegistry;
  private readonly engine: MetricEngine;
  private readonly log: Logger;
  readonly group: string;
  readonly metricsTopic: string;
  readonly alertsTopic: string;
  readonly changelogTopic: string;
  readonly srcChangelogTopic: string;
  readonly repartitionTopic: string;
  private admin: KafkaAdmin | undefined;
  /** Local copies of the tasks' state (with --state-dir). */
  private store: TaskStateStore | undefined;
  /** A local copy older than this may miss deletes that compaction has since removed (the changelog's delete.retention.ms). */
  private maxLocalAgeMs = 86_400_000;
  /** What restores the state of new tasks, and what commits a task's transaction: made by wire(), in open(). */
  private restorer: TaskRestorer | undefined;
  private committer: TaskCommitter | undefined;
  private lastPurge = 0;
  private readonly topics: string[];
  private readonly idleMs: number;
  /** Partitions of the inputs (= of the repartition topic), known after start(). */
  private partitions = 0;
  private readonly tables: TableState;
  private readonly tableTopics = new Map<string, ResolvedTable>();
  private consumer: KafkaConsumer | undefined;
  private tableConsumer: KafkaConsumer | undefined;
  private readonly tasks = new Map<string, Task>();
  /** Aggregate partitions assigned at the last rebalance whose state is not restored yet. */
  private toRestore: Record<Task['kind'], number[]> = { src: [], agg: [] };
  /**
   * Metrics grouped by the input's key (the group never spans partitions): aggregated in the source task, with
   * no repartition round trip (like KafkaClient Streams' groupByKey); its state is snapshotted as `src-<partition>`.
   */
  private readonly local: MetricEngine | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly prometheus: DerivePrometheus;
  private readonly statsd: HotShotsSink | undefined;
  /** The port /metrics is served on, after start() (when prometheusPort was given). */
  prometheusPort: number | undefined;
  /** The base URL the Prometheus endpoints are bound to, after start() (`http://0.0.0.0:9464`). */
  prometheusUrl: string | undefined;
  /** Metrics aggregated in source tasks (the `local` engine's); the others are aggregate tasks'. */
  private readonly localMetrics: string[];
  readonly stats = {
    consumed: 0, produced: 0, repartitioned: 0, restoredRecords: 0, restoredKeys: 0, restoreMs: 0, rebalances: 0, skippedUnknown: 0, tableRecords: 0, lateDropped: 0,
    commits: 0, changelogRecords: 0, changelogTombstones: 0, changelogBytes: 0, changelogMaxRecordBytes: 0, purgedPartitions: 0,
    /** Keys read from the local state store, and tasks rebuilt from the whole changelog although a local copy was configured. */
    localKeys: 0, localMs: 0, fullRestores: 0, localWriteFailures: 0,
  };

  constructor(private readonly options: DeriveOptions) {
    parseOptions(runnerOptionsSchema, options, 'derive');
    const conn = parseOptions(kafkaConnectionSchema, options.kafka, 'derive.kafka');
    this.kafka = createKafkaClient(conn);
    this.registry = new EventRegistry(options.schema, { topics: options.topicRenames ?? {} });
    this.idleMs = options.idleMs ?? 60_000;
    const isLocal = (m: ResolvedMetric) =>
      !!m.window && !m.notFollowedBy &&
      m.from.every((type) => {
        const key = this.registry.lookup(type).rule.keyField;
        return key !== undefined && m.groupBy.some((g) => g.path.length === 1 && g.path[0] === key);
      });
    const local = options.metrics.filter(isLocal);
    this.engine = new MetricEngine(options.metrics.filter((m) => !isLocal(m)), { idleMs: this.idleMs, externalTime: true });
    this.local = local.length > 0 ? new MetricEngine(local, { idleMs: this.idleMs }) : undefined;
    this.localMetrics = local.map((m) => m.name);
    this.log = options.logger ?? stderrLogger('multidispatch-derive');
    this.group = options.group ?? 'multidispatch-derive';
    this.metricsTopic = options.metricsTopic ?? 'multidispatch.metrics';
    this.alertsTopic = options.alertsTopic ?? 'multidispatch.alerts';
    this.changelogTopic = `${this.group}-changelog`;
    this.srcChangelogTopic = `${this.group}-src-changelog`;
    this.repartitionTopic = `${this.group}-repartition`;
    this.prometheus = new DerivePrometheus(options.metrics);
    if (options.statsd) {
      this.statsd = new HotShotsSink({
        host: options.statsd.host ?? '127.0.0.1', port: options.statsd.port ?? 8125, protocol: 'udp', aggregateMs: 0, maxPacketBytes: 1432,
        onError: (err) => this.log.warn({ err: err.message }, 'StatsD send failed'),
      });
    }
    const topicOf = (type: string) => this.registry.lookup(type).rule.topic;
    const inputTypes = options.metrics.flatMap((m) => [...m.from, ...(m.notFollowedBy ? [m.notFollowedBy.event] : [])]);
    this.topics = options.topics ?? [...new Set(inputTypes.map(topicOf))].sort();
    const tables = new Map([...this.engine.tables, ...(this.local?.tables ?? [])].map((t) => [t.name, t]));
    this.tables = new TableState([...tables.values()], this.registry, this.log);
    for (const t of tables.values()) {
      const topic = options.tableTopics?.[t.name] ?? topicOf(t.from);
      if (this.topics.includes(topic)) throw new TopologyError(topic, `table '${t.name}': its topic ${topic} is also an input topic; give the table its own (compacted) topic`);
      this.tableTopics.set(topic, t);
    }
  }

  /** The input topics it consumes (tables not included). */
  get inputTopics(): readonly string[] {
    return this.topics;
  }

  /** Starts consuming; a failure to start closes whatever was opened before it rethrows. */
  async start(): Promise<void> {
    try {
      await this.open();
    } catch (err) {
      this.stopped = true;
      await this.release();
      throw err;
    }
  }

  private async open(): Promise<void> {
    if (this.options.prometheusPort !== undefined) {
      const bound = await this.prometheus.listen(this.options.prometheusPort, this.options.prometheusHost ?? '127.0.0.1', { health: () => this.health(), readiness: () => this.readiness() });
      [this.prometheusPort, this.prometheusUrl] = [bound.port, bound.url];
      this.log.info({ metrics: `${bound.url}/metrics`, health: `${bound.url}/healthz`, readiness: `${bound.url}/readyz` }, 'Prometheus endpoint listening');
    }
    this.phase = 'checking topics';
    const partitions = await this.checkPartitions();
    this.partitions = partitions;
    // Internal topics are partitioned like the tasks: changelog partition p holds the state of task p.
    const internal = [this.changelogTopic, this.repartitionTopic, ...(this.local ? [this.srcChangelogTopic] : [])];
    await ensureTopics(this.kafka, [
      { topic: this.metricsTopic, partitions: 1 },
      { topic: this.alertsTopic, partitions: 1 },
      { topic: this.changelogTopic, partitions, config: { 'cleanup.policy': 'compact' } },
      ...(this.local ? [{ topic: this.srcChangelogTopic, partitions, config: { 'cleanup.policy': 'compact' } }] : []),
      { topic: this.repartitionTopic, partitions },
    ]);
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await this.checkInternalTopics(internal, partitions);
    if (this.options.stateDir !== undefined) await this.openStore(this.options.stateDir, internal);
    this.wire(this.admin);
    this.phase = 'loading tables';
    if (this.tableTopics.size > 0) await this.startTables();
    this.phase = 'joining the consumer group';

    this.consumer = this.kafka.consumer({ groupId: this.group, readUncommitted: false, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    this.consumer.onRebalancing(() => {
      this.rebalancing = true;
    });
    this.consumer.onCrash((error, restart) => {
      if (!restart) this.crashed = error;
    });
    this.consumer.onGroupJoin((assigned) => {
      this.stats.rebalances++;
      if (channels.deriveAssignment.hasSubscribers) channels.deriveAssignment.publish({ group: this.group, assignment: assigned });
      this.prometheus.rebalances.inc();
      // Known at once (readiness counts the tasks still to restore from it); the tasks follow under the lock.
      this.assigned = assigned;
      this.rebalancing = false;
      void this.locked(() => this.onAssignment(assigned)).catch((err) => void this.fail(err));
    });
    // Also for batches with nothing to process (transaction markers, aborted records): which inputs are read to the end.
    this.consumer.onBatchEnd((payload) => {
      if (payload.topic === this.repartitionTopic) return;
      const k = `${payload.topic}:${payload.partition}`;
      if (BigInt(payload.lastOffset) + 1n >= BigInt(payload.highWatermark)) this.fetchedToEnd.add(k);
      else this.fetchedToEnd.delete(k);
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.topics, this.repartitionTopic], fromBeginning: true });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.locked(() => this.eachBatch(p)) });
    this.timer = setInterval(() => void this.locked(() => this.tickAndCommit()).catch((err) => void this.fail(err)), this.options.commitIntervalMs ?? 1000);
    this.watch();
    this.phase = undefined;
  }

  /** /healthz: alive unless stopping, failed, or its consumer crashed for good (a restart is what helps then). */
  health(): Probe {
    if (this.fatal) return { ok: false, reason: `failed: ${this.fatal.message}` };
    if (this.crashed) return { ok: false, reason: `consumer crashed: ${this.crashed.message}` };
    if (this.stopped) return { ok: false, reason: 'stopping' };
    return { ok: true, reason: 'ok' };
  }

  /**
   * /readyz: ready when the consumer runs, has partitions assigned, and every assigned task with state has
   * restored it (as in KafkaClient Streams, where an instance is RUNNING once its active tasks are restored).
   */
  readiness(): Probe {
    const health = this.health();
    if (!health.ok) return health;
    if (this.phase !== undefined) return { ok: false, reason: `starting: ${this.phase}` };
    if (this.assigned === undefined) return { ok: false, reason: 'starting: joining the consumer group' };
    if (this.rebalancing) return { ok: false, reason: 'rebalancing' };
    const assigned = this.assignedTasks();
    if (assigned.all === 0) return { ok: false, reason: 'no partitions assigned' };
    const pending = assigned.withState.filter((id) => !this.tasks.has(id) || this.restoring.has(id)).length;
    if (pending > 0) return { ok: false, reason: `restoring ${pending} task(s)` };
    return { ok: true, reason: 'ok' };
  }

  /** The tasks of the last assignment: how many, and the ids of those with state to restore. */
  private assignedTasks(): { all: number; withState: string[] } {
    const agg = this.assigned?.[this.repartitionTopic] ?? [];
    const src = new Set(Object.entries(this.assigned ?? {}).flatMap(([topic, ps]) => (topic === this.repartitionTopic ? [] : ps)));
    const withState = [...agg.map((p) => taskId('agg', p)), ...(this.local ? [...src].map((p) => taskId('src', p)) : [])];
    return { all: agg.length + src.size, withState };
  }

  /**
   * Makes the restorer and the committer, handing them what they use: called in open() once the partition count,
   * the admin client and the local store (with --state-dir) are known.
   */
  private wire(admin: KafkaAdmin): void {
    const both: TaskDeps = {
      log: this.log, group: this.group,
      changelogTopics: { agg: this.changelogTopic, src: this.srcChangelogTopic }, engines: { agg: this.engine, src: this.local },
      store: this.store, prometheus: this.prometheus,
      setStage: (stage) => {
        this.stage = stage;
      },
    };
    this.restorer = new TaskRestorer({
      ...both, kafka: this.kafka, admin, maxLocalAgeMs: this.maxLocalAgeMs, stateCacheKeys: this.options.stateCacheKeys, stats: this.stats,
    });
    this.committer = new TaskCommitter({
      ...both, partitions: this.partitions, repartitionTopic: this.repartitionTopic, metricsTopic: this.metricsTopic, alertsTopic: this.alertsTopic,
      stats: this.stats, statsd: this.statsd, statsdOptions: this.options.statsd,
    });
  }

  /** Inputs must be co-partitioned, and so must non-global tables; returns the partition count. */
  private async checkPartitions(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const wanted = [...this.topics, ...this.tableTopics.keys()];
      const absent = await missingTopics(admin, wanted, 'DESCRIBE and READ');
      if (absent.length > 0) throw new TopologyError(absent[0]!, `topic(s) not found: ${absent.join(', ')} (create them, or check the topic names and --topic-rename)`);
      const meta = await admin.fetchTopicMetadata({ topics: wanted });
      const count = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
      const inputs = this.topics.map((t) => count.get(t)!);
      if (new Set(inputs).size > 1) {
        throw new TopologyError(
          this.topics[0]!,
          `input topics are not co-partitioned: ${this.topics.map((t) => `${t} has ${count.get(t)} partitions`).join(', ')}; ` +
            'give them the same partition count (and key them the same way)',
        );
      }
      for (const [topic, table] of this.tableTopics) {
        if (!table.global && count.get(topic) !== inputs[0]) {
          throw new TopologyError(
            topic,
            `table '${table.name}' is not co-partitioned with the input: ${topic} has ${count.get(topic)} partitions, ${this.topics[0]} has ${inputs[0]}; ` +
              `give it the same partition count and key, or declare the table global (every instance then reads all of it)`,
          );
        }
      }
      return inputs[0]!;
    } finally {
      await admin.disconnect();
    }
  }

  private async openStore(stateDir: string, changelogs: string[]): Promise<void> {
    const store = LmdbTaskStore.open(stateDir, this.group);
    this.store = store;
    if (store.discarded) this.log.warn({ stateDir: store.dir, movedTo: store.discarded }, 'local state store could not be read; moved aside, every task is rebuilt from its changelog');
    try {
      const res = await this.admin!.describeTopicConfigs(changelogs.filter((t) => t !== this.repartitionTopic));
      const ms = res.flatMap((r) => r.entries.filter((e) => e.configName === 'delete.retention.ms').map((e) => Number(e.configValue)));
      if (ms.length > 0 && ms.every(Number.isFinite)) this.maxLocalAgeMs = Math.min(...ms);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not read the changelog delete.retention.ms; local state older than 24 h is rebuilt');
    }
    this.log.info({ stateDir: store.dir }, 'local state store open');
  }

  /** Internal topics made for another partition count (other inputs, or an older state layout) are refused. */
  private async checkInternalTopics(topics: string[], partitions: number): Promise<void> {
    const meta = await this.admin!.fetchTopicMetadata({ topics });
    for (const topic of topics) {
      const n = meta.topics.find((t) => t.name === topic)?.partitions.length;
      if (n !== partitions) {
        throw new TopologyError(
          topic,
          `${topic} has ${n} partition(s) but the inputs have ${partitions}: it was made for other inputs (or by an older version, whose changelog had 1 partition); use a new --group, or delete the group's internal topics to start its state afresh`,
        );
      }
    }
  }

  /** Reads every table topic up to its end (as of now) before any input is processed, then keeps following it. */
  private async startTables(): Promise<void> {
    const t0 = Date.now();
    const { consumer, caughtUp, pending } = await readFromStart(this.kafka, { topics: [...this.tableTopics.keys()], group: `${this.group}-tables`, follow: true }, (batch) => {
      const table = this.tableTopics.get(batch.topic)!;
      for (const m of batch.messages) this.tables.applyRecord(table, batch.partition, m);
      this.stats.tableRecords = this.tables.records;
      this.prometheus.tableRows.set({ table: table.name }, this.tables.size(table.name));
    });
    this.tableConsumer = consumer;
    const slow = setInterval(() => this.log.warn({ waitingFor: pending() }, 'tables: still reading table topics before starting'), 10_000);
    await caughtUp;
    clearInterval(slow);
    this.log.info({ tables: Object.fromEntries([...this.tableTopics.values()].map((t) => [t.name, this.tables.size(t.name)])), ms: Date.now() - t0 }, 'tables loaded');
  }

  async stop(): Promise<void> {
    if (this.stopped) {
      await this.prometheus.close(); // left answering 503 after a fatal error
      return;
    }
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.watchdog) clearInterval(this.watchdog);
    await this.locked(() => this.commitAll()).catch((err) => this.log.warn({ err: (err as Error).message }, 'last commit failed'));
    this.log.info(this.stateSummary(), 'state at stop');
    await this.consumer?.disconnect();
    await this.tableConsumer?.disconnect().catch(() => undefined);
    for (const t of this.tasks.values()) await t.producer.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    this.tasks.clear();
    await this.store?.close().catch((err) => this.log.warn({ err: (err as Error).message }, 'closing the local state store failed'));
    await this.prometheus.close();
    await this.statsd?.close();
  }

  /** Live state keys and open windows over the tasks this instance holds (for sizing, tests and benchmarks). */
  stateSummary(): { tasks: number; keys: number; openWindows: number; cachedWindows: number; windowsReadFromDisk: number } {
    let keys = 0;
    let openWindows = 0;
    let cachedWindows = 0;
    let windowsReadFromDisk = 0;
    for (const t of this.tasks.values()) {
      const engine = t.kind === 'agg' ? this.engine : this.local;
      if (!engine) continue;
      keys += engine.stateKeys(t.partition);
      openWindows += engine.openWindows(t.partition);
      const c = engine.cacheStats(t.partition);
      cachedWindows += c.cached;
      windowsReadFromDisk += c.misses;
    }
    return { tasks: this.tasks.size, keys, openWindows, cachedWindows, windowsReadFromDisk };
  }

  /** Error callback for whoever runs the consumer; set by the caller. */
  onFatal: ((err: Error) => void) | undefined;

  /**
   * A failed transaction leaves the in-memory state ahead of what was committed: stop without committing
   * anything more. A restart restores every task from the changelog and the committed offsets.
   */
  private async fail(err: unknown): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.fatal = err as Error;
    if (this.timer) clearInterval(this.timer);
    this.log.error({ err: (err as Error).message }, 'derive stopped: a transaction failed; restart to resume from the last commit');
    await this.release({ keepEndpoint: true });
    this.onFatal?.(err as Error);
  }

  /**
   * Closes every client, server and timer this runner opened, committing nothing. `keepEndpoint`: the Prometheus
   * endpoint stays up, its /healthz answering 503, until stop() — so that whoever supervises the process sees why.
   */
  private async release({ keepEndpoint = false } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.watchdog) clearInterval(this.watchdog);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.tableConsumer?.disconnect().catch(() => undefined);
    for (const t of this.tasks.values()) await t.producer.disconnect().catch(() => undefined);
    this.tasks.clear();
    await this.admin?.disconnect().catch(() => undefined);
    await this.store?.close().catch(() => undefined);
    if (!keepEndpoint) await this.prometheus.close().catch(() => undefined);
    await this.statsd?.close().catch(() => undefined);
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const guarded = async () => {
      this.busySince = Date.now();
      try {
        return await fn();
      } finally {
        this.busySince = undefined;
      }
    };
    const run = this.lock.then(guarded, guarded);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** What the runner is waiting on (for the stall watchdog's message). */
  private stage = 'starting';
  /** What start() is doing, until the consumer runs (readiness says it); undefined once started. */
  private phase: string | undefined = 'starting';
  /** The assignment of the last rebalance (topic → partitions), and whether a rebalance is under way. */
  private assigned: Record<string, number[]> | undefined;
  private rebalancing = false;
  /** Tasks with state created but not yet restored. */
  private readonly restoring = new Set<string>();
  /** The error that stopped the runner (fail()), or that stopped its consumer for good (CRASH without restart). */
  private fatal: Error | undefined;
  private crashed: Error | undefined;
  /** `topic:partition` of input partitions whose last fetched batch reached the high watermark. */
  private readonly fetchedToEnd = new Set<string>();
  private busySince: number | undefined;
  private watchdog: NodeJS.Timeout | undefined;

  /**
   * A step that never finishes (a request the client never completes) would hold every task still, silently and
   * forever; after STALL_MS the runner stops with an error naming the step instead, so its supervisor restarts it
   * and it resumes from the last commit.
   */
  private watch(): void {
    this.watchdog = setInterval(() => {
      // A restore has its own watch (no progress for 60 s), and may take long while it progresses.
      if (this.busySince !== undefined && !this.stage.startsWith('restoring') && Date.now() - this.busySince > STALL_MS) {
        void this.fail(new Error(`derive made no progress for ${STALL_MS / 1000} s while ${this.stage}`));
      }
    }, 5000);
    this.watchdog.unref();
  }

  /** After a rebalance: forget the tasks that moved away; aggregate tasks that arrived are restored on first use. */
  private async onAssignment(assigned: Record<string, number[]>): Promise<void> {
    const mine = new Set<string>();
    for (const [topic, ps] of Object.entries(assigned)) for (const p of ps) mine.add(taskId(topic === this.repartitionTopic ? 'agg' : 'src', p));
    for (const [id, task] of this.tasks) {
      if (mine.has(id)) continue;
      await this.dropTask(task);
    }
    this.toRestore.agg = (assigned[this.repartitionTopic] ?? []).filter((p) => !this.tasks.has(taskId('agg', p)));
    const inputs = new Set(Object.entries(assigned).flatMap(([topic, ps]) => (topic === this.repartitionTopic ? [] : ps)));
    this.toRestore.src = [...inputs].filter((p) => !this.tasks.has(taskId('src', p)));
    this.log.info({ assigned }, 'partitions assigned');
    // Aggregate tasks keep the sources' watermarks in memory only: one that moved here (or restarted) has none.
    // Every source task sends its watermark again after a rebalance, so no aggregate task waits for a source
    // whose watermark has not changed since (an idle or empty input).
    for (const t of this.tasks.values()) if (t.kind === 'src') t.sentWatermark = undefined;
  }

  private async dropTask(task: Task): Promise<void> {
    await task.producer.disconnect().catch(() => undefined);
    this.tasks.delete(taskId(task.kind, task.partition));
    if (task.kind === 'agg') this.engine.drop(task.partition);
    else this.local?.drop(task.partition);
    // Its groups and lag are the new owner's to show now.
    const metrics = task.kind === 'src' ? this.localMetrics : this.options.metrics.map((m) => m.name).filter((m) => !this.localMetrics.includes(m));
    this.prometheus.windows.forgetPartition(task.partition, metrics);
    for (const topic of task.kind === 'src' ? this.topics : [this.repartitionTopic]) this.prometheus.lag.remove({ topic, partition: String(task.partition) });
  }

  private async newTask(kind: Task['kind'], partition: number): Promise<Task> {
    const producer = this.kafka.producer({ transactionalId: `${this.group}-${kind}-${partition}`, idempotent: true, maxInFlightRequests: 1 });
    this.stage = `starting task ${taskId(kind, partition)} (InitProducerId: fencing its previous owner)`;
    await producer.connect(); // InitProducerId: fences any previous owner of this task and aborts its open transaction
    const { floor, eventTime } = await this.committed(kind, partition);
    const task: Task = { kind, partition, producer, offsets: new Map(), position: floor, out: emptyOutput(), repartition: [], dirty: false, startedAt: Date.now() };
    if (kind === 'src') {
      task.clock = new StreamClock(this.idleMs);
      // Idle time counts from now: the downtime must not move stream time past what is still to be read.
      if (eventTime !== undefined) task.clock.restore({ maxEventTime: eventTime, lastEventWall: Date.now() });
    }
    else {
      task.watermarks = new Map();
      task.joinWatermarks = new Map();
      task.sentJoinWatermarks = new Map();
    }
    this.tasks.set(taskId(kind, partition), task);
    return task;
  }

  /**
   * Whether source task `t` has read every input partition to its end, as of now: nothing after its position
   * (or the partition is empty), or the consumer's last fetch of it reached the high watermark (a topic whose
   * last records are transaction markers).
   */
  private async inputsAtEnd(t: Task, ends: Map<string, Promise<Array<{ partition: number; high: string; low: string }>>>): Promise<boolean> {
    for (const topic of this.topics) {
      if (this.fetchedToEnd.has(`${topic}:${t.partition}`)) continue;
      if (!ends.has(topic)) ends.set(topic, this.admin!.fetchTopicOffsets(topic));
      const o = (await ends.get(topic)!).find((x) => x.partition === t.partition);
      if (!o || (t.position.get(topic) ?? BigInt(o.low)) < BigInt(o.high)) return false;
    }
    return true;
  }

  /**
   * What the group committed for task (kind, partition), read after its producer fenced the previous owner: the
   * offsets of what it consumes, and (source tasks) the largest event time it had seen, from their metadata.
   */
  private async committed(kind: Task['kind'], partition: number): Promise<{ floor: Map<string, bigint>; eventTime: number | undefined }> {
    const floor = new Map<string, bigint>();
    let eventTime: number | undefined;
    const topics = kind === 'agg' ? [this.repartitionTopic] : this.topics;
    for (const { topic, partitions } of await this.admin!.fetchOffsets({ groupId: this.group, topics })) {
      const c = partitions.find((x) => x.partition === partition);
      if (c !== undefined && BigInt(c.offset) >= 0n) floor.set(topic, BigInt(c.offset));
      if (kind !== 'src' || !c?.metadata) continue;
      try {
        const t = (JSON.parse(c.metadata) as { t?: unknown }).t;
        if (typeof t === 'number' && Number.isFinite(t)) eventTime = Math.max(eventTime ?? t, t);
      } catch {
        this.log.warn({ topic, partition }, 'committed offset metadata is not a stream time; it starts again from the next input');
      }
    }
    return { floor, eventTime };
  }

  private async task(kind: Task['kind'], partition: number): Promise<Task> {
    const existing = this.tasks.get(taskId(kind, partition));
    if (existing) return existing;
    if (kind === 'src' && !this.local) return this.newTask(kind, partition);
    // Tasks with state: fence every newly assigned one first, then read their state in one pass of the changelog.
    const batch = [...new Set([...this.toRestore[kind], partition])].filter((p) => !this.tasks.has(taskId(kind, p)));
    this.toRestore[kind] = [];
    const ids = batch.map((p) => taskId(kind, p));
    for (const id of ids) this.restoring.add(id);
    try {
      const created = [];
      for (const p of batch) created.push(await this.newTask(kind, p));
      await this.restorer!.restore(kind, created.map((t) => t.partition));
    } finally {
      for (const id of ids) this.restoring.delete(id);
    }
    return this.tasks.get(taskId(kind, partition))!;
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isStale }: EachBatchContext): Promise<void> {
    if (this.stopped) return;
    const agg = batch.topic === this.repartitionTopic;
    const t = await this.task(agg ? 'agg' : 'src', batch.partition);
    this.stage = `processing a batch of ${batch.topic} partition ${batch.partition}`;
    const now = Date.now();
    // Records below the task's position were processed by it already (a rebalance that kept the task makes the
    // consumer fetch again from the committed offset, which is behind what the task holds in memory) or were
    // committed by the previous owner after this consumer fetched its start offset: skipped, never counted twice.
    let next = t.position.get(batch.topic) ?? -1n;
    try {
      for (const m of batch.messages) {
        if (isStale() || this.stopped) return;
        const offset = BigInt(m.offset);
        if (offset < next) {
          resolveOffset(m.offset);
          continue;
        }
        if (agg) this.aggregateRecord(t, m, now);
        else this.sourceRecord(t, batch.topic, batch.partition, m);
        next = offset + 1n;
        t.offsets.set(batch.topic, String(next));
        t.dirty = true;
        resolveOffset(m.offset);
      }
    } finally {
      if (next >= 0n) t.position.set(batch.topic, next);
    }
    const last = batch.messages.at(-1);
    if (last) this.prometheus.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last.offset) - 1n)));
    this.stage = `heartbeat after a batch of ${batch.topic} partition ${batch.partition}`;
    await heartbeat();
  }

  private sourceRecord(t: Task, topic: string, partition: number, m: IncomingRecord): void {
    this.stats.consumed++;
    this.prometheus.consumed.inc();
    const type = m.headers?.[HEADER.eventType]?.toString();
    if (!type || !m.value || !this.registry.has(type)) {
      this.stats.skippedUnknown++;
      return;
    }
    const occurredHeader = m.headers?.[HEADER.occurredAt]?.toString();
    const occurredAt = occurredHeader ? Date.parse(occurredHeader) : Number(m.timestamp);
    let event: Record<string, unknown>;
    try {
      event = this.registry.decode(type, m.value);
    } catch (err) {
      this.stats.skippedUnknown++;
      this.log.warn({ topic, partition, offset: m.offset, type, err: (err as Error).message }, 'input record could not be decoded; skipped');
      return;
    }
    t.clock!.observe(occurredAt, Date.now());
    const e = { type, event, occurredAt, partition };
    const { inputs, immediate } = this.engine.extract(e, this.tables.lookup);
    if (this.local) this.collect(t, this.local.process(e, Date.now(), this.tables.lookup));
    t.repartition.push(...inputs);
    t.out.values.push(...immediate);
  }

  private aggregateRecord(t: Task, m: IncomingRecord, now: number): void {
    if (!m.value) return;
    const rec = JSON.parse(m.value.toString()) as MetricInput | Watermark | JoinWatermark;
    if ('w' in rec) {
      t.watermarks!.set(rec.w, rec);
      this.advance(t, now);
    } else if ('jw' in rec) {
      let byPartition = t.joinWatermarks!.get(rec.m);
      if (!byPartition) t.joinWatermarks!.set(rec.m, (byPartition = new Map()));
      byPartition.set(rec.jw, rec.t);
      // Counted where the group lives, once every partition that may still forward to it has moved past.
      if (byPartition.size === this.partitions) this.collect(t, this.engine.advanceJoinedTo(t.partition, rec.m, Math.min(...byPartition.values()), now));
    } else this.collect(t, this.engine.aggregate(rec, t.partition, now));
  }

  /**
   * Stream time of an aggregate task: the smallest watermark of the source tasks feeding it (a source that has
   * had no input at all is left out), once every source has reported. An idle source's watermark moves on with
   * the wall clock, so windows close when traffic stops — and a source that is merely behind (a backlog after a
   * restart, a slow fetch, an instance still starting) holds the others back instead of losing its events.
   */
  private advance(t: Task, now: number): void {
    const wms = [...t.watermarks!.values()];
    if (wms.length < this.partitions) return;
    const times = wms.filter((w) => w.t !== null).map((w) => w.t!);
    if (times.length > 0) this.collect(t, this.engine.advanceTo(t.partition, Math.min(...times), now));
  }

  /** Source tasks: the watermark to send downstream, when it changed. */
  private watermarkOf(t: Task, now: number): Watermark | undefined {
    const c = t.clock!.snapshot();
    const seen = Number.isFinite(c.maxEventTime);
    // No event yet: "no input" only once every input is read to the end and idleMs has passed; until then the
    // others wait for it (with idleMs 0, for ever).
    if (!seen && (this.idleMs === 0 || now - t.startedAt < this.idleMs || !t.atEnd)) return undefined;
    const wm: Watermark = { w: t.partition, t: seen ? t.clock!.now(now) : null };
    const text = JSON.stringify(wm);
    return text === t.sentWatermark ? undefined : wm;
  }

  private collect(t: Task, o: EngineOutput): void {
    t.out.values.push(...o.values);
    t.out.alerts.push(...o.alerts);
    t.repartition.push(...o.forward.map((f) => f.input));
    if (o.values.length + o.alerts.length + o.forward.length > 0) t.dirty = true;
  }

  private async tickAndCommit(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    // Every assigned input partition gets its source task now, with or without input: aggregate tasks wait for
    // a watermark from every source, and one whose input is empty or all consumed (a restart after the end of the
    // input) must still report — its clock restored from the committed offset metadata, or "no input".
    for (const p of [...this.toRestore.src]) await this.task('src', p);
    this.toRestore.src = [];
    // Aggregate tasks are restored now too, not when their first record arrives: an instance is ready once every
    // task it was given has its state, and an idle repartition partition would otherwise keep it waiting.
    const agg = this.toRestore.agg[0];
    if (agg !== undefined) await this.task('agg', agg);
    const ends = new Map<string, Promise<Array<{ partition: number; high: string; low: string }>>>(); // one end-offsets request per topic per tick
    for (const t of this.tasks.values()) {
      // About to say "no input": checked against the input's end right now, so a task whose input has arrived
      // since (but is not fetched yet) does not let the others go on without it.
      if (t.kind === 'src' && this.idleMs > 0 && !Number.isFinite(t.clock!.snapshot().maxEventTime) && now - t.startedAt >= this.idleMs && t.sentWatermark === undefined) {
        t.atEnd = await this.inputsAtEnd(t, ends);
      }
    }
    for (const t of this.tasks.values()) {
      if (t.kind === 'agg') this.advance(t, now);
      else {
        const wm = this.watermarkOf(t, now);
        if (wm !== undefined) {
          t.pendingWatermark = wm;
          t.dirty = true;
        }
      }
    }
    const aggs = [...this.tasks.values()].filter((t) => t.kind === 'agg');
    const srcs = [...this.tasks.values()].filter((t) => t.kind === 'src');
    const o = this.engine.advance(now, aggs.map((t) => t.partition));
    if (this.local) {
      const l = this.local.advance(now, srcs.map((t) => t.partition));
      for (const t of srcs) this.collect(t, { values: l.values.filter((v) => v.partition === t.partition), alerts: l.alerts.filter((a) => a.partition === t.partition), forward: [] });
    }
    for (const t of aggs) {
      this.collect(t, {
        values: o.values.filter((v) => v.partition === t.partition),
        alerts: o.alerts.filter((a) => a.partition === t.partition),
        forward: o.forward.filter((f) => f.partition === t.partition),
      });
    }
    await this.commitAll();
    this.prometheus.windows.sweep((metric) => (this.localMetrics.includes(metric) ? this.local : this.engine)?.streamTime(metric, now));
    if (now - this.lastPurge >= (this.options.repartitionPurgeIntervalMs ?? 30_000)) {
      this.lastPurge = now;
      await this.purgeRepartition();
    }
  }

  /**
   * Deletes the repartition records every aggregate task has committed (as KafkaClient Streams does), so the topic
   * holds what is in flight rather than the broker's retention. A failure is logged and retried next time.
   */
  private async purgeRepartition(): Promise<void> {
    const partitions = [...this.tasks.values()].filter((t) => t.kind === 'agg' && t.purgeBelow !== undefined).map((t) => ({ partition: t.partition, offset: t.purgeBelow! }));
    if (partitions.length === 0 || !this.admin) return;
    this.stage = `deleting consumed records of ${this.repartitionTopic}`;
    try {
      await this.admin.deleteTopicRecords({ topic: this.repartitionTopic, partitions });
      this.stats.purgedPartitions += partitions.length;
      for (const t of this.tasks.values()) if (t.kind === 'agg') t.purgeBelow = undefined;
    } catch (err) {
      this.log.warn({ topic: this.repartitionTopic, err: (err as Error).message }, 'could not delete consumed repartition records; will retry');
    }
  }

  /** One transaction per dirty task: what it produced + (aggregate tasks) its state + the offsets it consumed. */
  private async commitAll(): Promise<void> {
    for (const t of [...this.tasks.values()]) {
      if (!t.dirty) continue;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.committer!.commitTask(t);
          break;
        } catch (err) {
          if (isFenced(err)) {
            // Another instance owns this task now (a rebalance we have not seen yet): its work is not ours to commit.
            this.log.warn({ task: taskId(t.kind, t.partition), err: (err as Error).message }, 'task fenced by a new owner; dropping it');
            await this.dropTask(t);
            break;
          }
          // The aborted transaction took nothing with it: outputs, snapshot and offsets are still pending in the
          // task, so the whole transaction can be retried (a coordinator moved, a broker restarted).
          if (attempt >= 5 || (err as { retriable?: boolean }).retriable === false) throw err;
          this.log.warn({ task: taskId(t.kind, t.partition), attempt, err: (err as Error).message }, 'transaction failed; retrying it');
          await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        }
      }
    }
    const late = { ...this.engine.lateDropped(), ...(this.local?.lateDropped() ?? {}) };
    this.stats.lateDropped = Object.values(late).reduce((a, b) => a + b, 0);
    this.prometheus.addTotals(this.prometheus.late, { ...this.engine.lateDroppedHere(), ...(this.local?.lateDroppedHere() ?? {}) });
    this.prometheus.addTotals(this.prometheus.missingJoins, { ...this.engine.missingJoins(), ...(this.local?.missingJoins() ?? {}) });
    // Set from the engines' alert states rather than counted from transitions: restored and moved-away groups count right.
    for (const [metric, n] of Object.entries({ ...this.engine.alertsFiring(), ...(this.local?.alertsFiring() ?? {}) })) this.prometheus.alertsFiring.set({ metric }, n);
  }

}
