import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import pino, { type Logger } from 'pino';
import { ensureTopics } from '../kafka/admin.js';
import { createKafka, type KafkaConnectionOptions } from '../kafka/client.js';
import { kafkaConnectionSchema } from '../kafka/client.js';
import { parseOptions } from '../config/parse.js';
import { HEADER } from '../schema/envelope.js';
import { EventRegistry } from '../schema/registry.js';
import type { EventSchema } from '../schema/types.js';
import type { ResolvedMetric } from './definitions.js';
import { MetricEngine, type EngineOutput, type PartitionSnapshot } from './engine.js';
import { DerivePrometheus } from './prometheus.js';
import { HotShotsSink } from '../sinks/statsd/sink.js';
import { sanitizeMetricName, sanitizeTagName, sanitizeTagValue } from '../sinks/statsd/sanitize.js';
import { ALERT_TYPE, DERIVED_METRIC_TYPE, encodeAlert, encodeMetric, metricKey } from './outputs.js';

export interface DeriveOptions {
  kafka: KafkaConnectionOptions;
  schema: EventSchema;
  metrics: readonly ResolvedMetric[];
  /** Consumer group; also names the changelog topic and the transactional ids. */
  group?: string;
  /** Input topics (default: the topics of the metrics' event types, after `topicRenames`). */
  topics?: string[];
  topicRenames?: Record<string, string>;
  metricsTopic?: string;
  alertsTopic?: string;
  /** Stream time advances with the wall clock after this long without input (0: never). */
  idleMs?: number;
  /** How often outputs, state and offsets are committed (one Kafka transaction per partition). */
  commitIntervalMs?: number;
  /**
   * Also send the committed values to StatsD (hot-shots, DogStatsD tags, the publisher's sanitising): windowed
   * values as gauges `<prefix><metric>`, per-event values as counters, alert transitions as counters
   * `<prefix><metric>.alert` tagged with the state. Sent after the transaction commits (at most once).
   */
  statsd?: { host?: string; port?: number; prefix?: string; globalTags?: Record<string, string> };
  /** Serve Prometheus /metrics on this loopback port (0: a free one); omit for none. */
  prometheusPort?: number;
  logger?: Logger;
}

interface PartitionTask {
  partition: number;
  producer: Producer;
  /** Next offset per input topic, consumed but not yet committed. */
  offsets: Map<string, string>;
  pending: EngineOutput;
  dirty: boolean;
}

const emptyOutput = (): EngineOutput => ({ values: [], alerts: [] });

/**
 * The derived-metric consumer (first cut). Per input partition ("task", as in Kafka Streams: the same
 * partition number of every input topic, which is why inputs must be co-partitioned) it keeps the engine's
 * state, and commits — in ONE Kafka transaction per task — the metric values and alert transitions it
 * produced, a snapshot of the task's state to the compacted changelog topic, and the consumed offsets.
 * Each task has its own transactional producer (`<group>-task-<partition>`), so a new owner of the partition
 * fences the previous one (zombie fencing as in Kafka Streams' exactly-once v1). On assignment a task's state
 * is restored from the changelog's latest snapshot.
 */
export class DeriveRunner {
  private readonly kafka: Kafka;
  private readonly registry: EventRegistry;
  private readonly engine: MetricEngine;
  private readonly log: Logger;
  readonly group: string;
  readonly metricsTopic: string;
  readonly alertsTopic: string;
  readonly changelogTopic: string;
  private readonly topics: string[];
  private consumer: Consumer | undefined;
  private readonly tasks = new Map<number, PartitionTask>();
  private lock: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly prometheus: DerivePrometheus;
  private readonly statsd: HotShotsSink | undefined;
  /** The port /metrics is served on, after start() (when prometheusPort was given). */
  prometheusPort: number | undefined;
  readonly stats = { consumed: 0, produced: 0, restoredRecords: 0, restoreMs: 0, rebalances: 0, skippedUnknown: 0 };

  constructor(private readonly options: DeriveOptions) {
    const conn = parseOptions(kafkaConnectionSchema, options.kafka, 'derive.kafka');
    this.kafka = createKafka(conn);
    this.registry = new EventRegistry(options.schema, { topics: options.topicRenames ?? {} });
    this.engine = new MetricEngine(options.metrics, { idleMs: options.idleMs ?? 60_000 });
    this.log = options.logger ?? pino({ name: 'multidispatch-derive' }, pino.destination(2));
    this.group = options.group ?? 'multidispatch-derive';
    this.metricsTopic = options.metricsTopic ?? 'multidispatch.metrics';
    this.alertsTopic = options.alertsTopic ?? 'multidispatch.alerts';
    this.changelogTopic = `${this.group}-changelog`;
    this.prometheus = new DerivePrometheus(options.metrics);
    if (options.statsd) {
      this.statsd = new HotShotsSink({
        host: options.statsd.host ?? '127.0.0.1', port: options.statsd.port ?? 8125, protocol: 'udp', aggregateMs: 0, maxPacketBytes: 1432,
        onError: (err) => this.log.warn({ err: err.message }, 'StatsD send failed'),
      });
    }
    this.topics =
      options.topics ?? [...new Set(options.metrics.flatMap((m) => m.from.map((t) => this.registry.lookup(t).rule.topic)))].sort();
  }

  async start(): Promise<void> {
    if (this.options.prometheusPort !== undefined) this.prometheusPort = await this.prometheus.listen(this.options.prometheusPort);
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: this.topics });
      const counts = new Set(meta.topics.map((t) => t.partitions.length));
      if (counts.size > 1) {
        throw new Error(
          `input topics are not co-partitioned: ${meta.topics.map((t) => `${t.name} has ${t.partitions.length} partitions`).join(', ')}; ` +
            'give them the same partition count (and key them the same way), or repartition',
        );
      }
    } finally {
      await admin.disconnect();
    }
    await ensureTopics(this.kafka, [
      { topic: this.metricsTopic, partitions: 1 },
      { topic: this.alertsTopic, partitions: 1 },
      { topic: this.changelogTopic, partitions: 1, config: { 'cleanup.policy': 'compact' } },
    ]);
    this.consumer = this.kafka.consumer({ groupId: this.group, readUncommitted: false, sessionTimeout: 10_000, heartbeatInterval: 1000, allowAutoTopicCreation: false });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      this.stats.rebalances++;
      this.prometheus.rebalances.inc();
      const mine = new Set(Object.values(e.payload.memberAssignment).flat());
      void this.locked(async () => {
        for (const [p, task] of this.tasks) {
          if (!mine.has(p)) {
            await task.producer.disconnect().catch(() => undefined);
            this.tasks.delete(p);
          }
        }
      });
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.locked(() => this.eachBatch(p)) });
    this.timer = setInterval(() => void this.locked(() => this.tickAndCommit()).catch((err) => void this.fail(err)), this.options.commitIntervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.locked(() => this.commitAll());
    await this.consumer?.disconnect();
    for (const t of this.tasks.values()) await t.producer.disconnect().catch(() => undefined);
    this.tasks.clear();
    await this.prometheus.close();
    await this.statsd?.close();
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
    if (this.timer) clearInterval(this.timer);
    this.log.error({ err: (err as Error).message }, 'derive stopped: a transaction failed; restart to resume from the last commit');
    await this.consumer?.disconnect().catch(() => undefined);
    for (const t of this.tasks.values()) await t.producer.disconnect().catch(() => undefined);
    await this.prometheus.close();
    this.onFatal?.(err as Error);
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async task(partition: number): Promise<PartitionTask> {
    let t = this.tasks.get(partition);
    if (t) return t;
    const producer = this.kafka.producer({ transactionalId: `${this.group}-task-${partition}`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect(); // InitProducerId: fences any previous owner of this task
    const t0 = Date.now();
    const snap = await this.readSnapshot(partition);
    if (snap) this.engine.restore(partition, snap.state);
    this.stats.restoreMs += Date.now() - t0;
    this.prometheus.restoreSeconds.inc((Date.now() - t0) / 1000);
    this.log.info({ partition, restored: !!snap, restoreMs: Date.now() - t0 }, 'task started');
    t = { partition, producer, offsets: new Map(), pending: emptyOutput(), dirty: false };
    this.tasks.set(partition, t);
    return t;
  }

  /** The latest committed snapshot of a task (read_committed, the whole compacted changelog). */
  private async readSnapshot(partition: number): Promise<{ state: PartitionSnapshot } | undefined> {
    const admin = this.kafka.admin();
    await admin.connect();
    const [end] = await admin.fetchTopicOffsets(this.changelogTopic);
    await admin.disconnect();
    if (!end || end.high === end.low) return undefined;
    const consumer = this.kafka.consumer({ groupId: `${this.group}-restore-${partition}-${Date.now()}`, readUncommitted: false });
    let latest: { state: PartitionSnapshot } | undefined;
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: this.changelogTopic, fromBeginning: true });
      const high = BigInt(end.high);
      await new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`restoring task ${partition} from ${this.changelogTopic} took over 60 s`)), 60_000);
        consumer
          .run({
            eachBatch: async ({ batch }) => {
              for (const m of batch.messages) {
                this.stats.restoredRecords++;
                this.prometheus.restoredRecords.inc();
                if (m.key?.toString() === String(partition) && m.value) latest = JSON.parse(m.value.toString()) as { state: PartitionSnapshot };
              }
              // Transaction markers count in offsets: done once the batch reaches the end seen at start.
              if (BigInt(batch.lastOffset()) + 1n >= high || BigInt(batch.highWatermark) <= BigInt(batch.lastOffset()) + 1n) {
                clearTimeout(deadline);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
    return latest;
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isStale }: EachBatchPayload): Promise<void> {
    if (this.stopped) return;
    const t = await this.task(batch.partition);
    const now = Date.now();
    for (const m of batch.messages) {
      if (isStale()) return;
      this.stats.consumed++;
      this.prometheus.consumed.inc();
      const type = m.headers?.[HEADER.eventType]?.toString();
      if (type && m.value && this.registry.has(type)) {
        const occurredHeader = m.headers?.[HEADER.occurredAt]?.toString();
        const occurredAt = occurredHeader ? Date.parse(occurredHeader) : Number(m.timestamp);
        const o = this.engine.process({ type, event: this.registry.decode(type, m.value), occurredAt, partition: batch.partition }, now);
        t.pending.values.push(...o.values);
        t.pending.alerts.push(...o.alerts);
      } else this.stats.skippedUnknown++;
      t.offsets.set(batch.topic, String(BigInt(m.offset) + 1n));
      t.dirty = true;
      resolveOffset(m.offset);
    }
    await heartbeat();
  }

  private async tickAndCommit(): Promise<void> {
    const o = this.engine.tick(Date.now());
    for (const v of o.values) {
      // Values closed by the idle clock belong to their task: route by the partitions that hold state.
      const t = this.tasks.get(v.partition);
      if (t) {
        t.pending.values.push(v);
        t.dirty = true;
      }
    }
    for (const a of o.alerts) {
      const t = this.tasks.get(a.partition);
      if (t) {
        t.pending.alerts.push(a);
        t.dirty = true;
      }
    }
    await this.commitAll();
  }

  private toStatsd(out: EngineOutput): void {
    if (!this.statsd) return;
    const prefix = this.options.statsd?.prefix ?? '';
    const global = this.options.statsd?.globalTags ?? {};
    const tagsOf = (dims: Record<string, string>, extra: Record<string, string> = {}) => {
      const tags: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...global, ...dims, ...extra })) tags[sanitizeTagName(k)] = sanitizeTagValue(v);
      return tags;
    };
    for (const v of out.values) {
      const name = sanitizeMetricName(`${prefix}${v.metric}`);
      const tags = tagsOf(v.dimensions);
      if (v.windowStart === undefined) this.statsd.increment({ name, tags, value: v.value, key: '' });
      else if (Number.isFinite(v.value)) this.statsd.gauge(name, v.value, tags);
    }
    for (const a of out.alerts) this.statsd.increment({ name: sanitizeMetricName(`${prefix}${a.metric}.alert`), tags: tagsOf(a.dimensions, { state: a.state }), value: 1, key: '' });
  }

  /** One transaction per dirty task: outputs + state snapshot + consumed offsets. */
  private async commitAll(): Promise<void> {
    for (const t of this.tasks.values()) {
      if (!t.dirty) continue;
      const emittedAt = Date.now();
      const tx = await t.producer.transaction();
      try {
        const messages = t.pending.values.map((v) => ({ key: metricKey(v), value: encodeMetric(v, emittedAt), headers: { [HEADER.eventType]: DERIVED_METRIC_TYPE } }));
        if (messages.length > 0) await tx.send({ topic: this.metricsTopic, acks: -1, messages });
        const alerts = t.pending.alerts.map((a) => ({ key: metricKey(a), value: encodeAlert(a, emittedAt), headers: { [HEADER.eventType]: ALERT_TYPE } }));
        if (alerts.length > 0) await tx.send({ topic: this.alertsTopic, acks: -1, messages: alerts });
        await tx.send({ topic: this.changelogTopic, acks: -1, messages: [{ key: String(t.partition), value: JSON.stringify({ state: this.engine.snapshot(t.partition) }) }] });
        if (t.offsets.size > 0) {
          await tx.sendOffsets({
            consumerGroupId: this.group,
            topics: [...t.offsets].map(([topic, offset]) => ({ topic, partitions: [{ partition: t.partition, offset }] })),
          });
        }
        await tx.commit();
        for (const a of t.pending.alerts) this.log.warn({ metric: a.metric, dimensions: a.dimensions, value: a.value, state: a.state }, `alert ${a.state}: ${a.metric}`);
        this.stats.produced += messages.length + alerts.length;
        this.prometheus.produced.inc(messages.length + alerts.length);
        this.prometheus.observe(t.pending, this.engine.lateDropped());
        this.toStatsd(t.pending);
        this.log.debug({ partition: t.partition, values: messages.length, alerts: alerts.length }, 'transaction committed');
        t.pending = emptyOutput();
        t.offsets.clear();
        t.dirty = false;
      } catch (err) {
        await tx.abort().catch(() => undefined);
        throw err;
      }
    }
  }
}
