/**
 * Committing a task: one Kafka transaction with what the task produced (repartition records, watermarks, metric
 * values, alerts), the changelog records of the state it changed and the offsets it consumed; then, once it has
 * committed, the local state store (with --state-dir), the stats and StatsD. Apart from the runner so that what
 * one transaction holds, and in which order, reads in one place; the runner decides when to commit and what to
 * do when a commit fails.
 */
import { channels } from '../log.js';
import type { OutgoingRecord } from '../kafka/port.js';
import { v7 as uuidv7 } from 'uuid';
import { HEADER } from '../schema/envelope.js';
import type { HotShotsSink } from '../sinks/statsd/sink.js';
import { sanitizeMetricName, sanitizeTagName, sanitizeTagValue } from '../sinks/statsd/sanitize.js';
import { emptyOutput, routeKey, type EngineOutput } from './engine.js';
import type { DeriveOptions } from './options.js';
import { ALERT_TYPE, DERIVE_PRODUCER, DERIVED_METRIC_TYPE, encodeAlert, encodeMetric, metricKey } from './outputs.js';
import { sendChunked } from './send.js';
import type { StateEntry } from './state.js';
import { taskId, type JoinWatermark, type Task, type TaskDeps } from './task.js';

/** The counters of the runner's stats a commit adds to (DeriveRunner.stats says what they count). */
export interface CommitStats {
  produced: number;
  repartitioned: number;
  commits: number;
  changelogRecords: number;
  changelogTombstones: number;
  changelogBytes: number;
  changelogMaxRecordBytes: number;
  localWriteFailures: number;
}

export interface CommitDeps extends TaskDeps {
  /** Partitions of the repartition topic: every one gets each watermark. */
  partitions: number;
  repartitionTopic: string;
  metricsTopic: string;
  alertsTopic: string;
  stats: CommitStats;
  /** Where committed values go besides Kafka (with DeriveOptions.statsd), and its prefix and tags. */
  statsd: HotShotsSink | undefined;
  statsdOptions: DeriveOptions['statsd'];
}

export class TaskCommitter {
  constructor(private readonly deps: CommitDeps) {}

  /** The changelog records of a task's next commit: one per state key changed since the last one. */
  private changelogOf(t: Task): OutgoingRecord[] {
    const engine = this.deps.engines[t.kind];
    if (!engine) return [];
    return engine.changes(t.partition).map(([key, value]) => ({ key, value: value ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : null, partition: t.partition }));
  }

  async commitTask(t: Task): Promise<void> {
    const emittedAt = Date.now();
    const started = performance.now();
    t.changelog ??= this.changelogOf(t);
    // The envelope every multidispatch record carries, so a loader's typed view has EVENT_ID and OCCURRED_AT.
    const occurredAt = new Date(emittedAt).toISOString();
    const envelope = (type: string) => ({ [HEADER.eventType]: type, [HEADER.eventId]: uuidv7(), [HEADER.occurredAt]: occurredAt, [HEADER.producer]: DERIVE_PRODUCER });
    const values = t.out.values.map((v) => ({ key: metricKey(v), value: encodeMetric(v, emittedAt), headers: envelope(DERIVED_METRIC_TYPE) }));
    const alerts = t.out.alerts.map((a) => ({ key: metricKey(a), value: encodeAlert(a, emittedAt), headers: envelope(ALERT_TYPE) }));
    const joinWms = new Map<string, number>();
    let changelogEnd: bigint | undefined;
    const id = taskId(t.kind, t.partition);
    this.deps.setStage(`committing ${id}: beginning the transaction`);
    const tx = await t.producer.transaction();
    try {
      const messages: OutgoingRecord[] = t.repartition.map((i) => ({ key: routeKey(i), value: JSON.stringify(i) }));
      // After the data it covers, in the same transaction: a watermark to every partition downstream.
      if (t.pendingWatermark !== undefined) {
        const value = JSON.stringify(t.pendingWatermark);
        for (let p = 0; p < this.deps.partitions; p++) messages.push({ key: `wm-${t.partition}`, value, partition: p });
      }
      if (t.kind === 'agg') {
        for (const metric of this.deps.engines.agg.joinedMetrics) {
          const jw = this.deps.engines.agg.joinWatermark(t.partition, metric);
          if (jw === undefined || jw === t.sentJoinWatermarks!.get(metric)) continue;
          joinWms.set(metric, jw);
          const value = JSON.stringify({ jw: t.partition, m: metric, t: jw } satisfies JoinWatermark);
          for (let p = 0; p < this.deps.partitions; p++) messages.push({ key: `jw-${t.partition}`, value, partition: p });
        }
      }
      this.deps.setStage(`committing ${id}: sending ${messages.length} records to ${this.deps.repartitionTopic}`);
      await sendChunked(tx, this.deps.repartitionTopic, messages);
      this.deps.setStage(`committing ${id}: sending ${values.length} values to ${this.deps.metricsTopic}`);
      await sendChunked(tx, this.deps.metricsTopic, values);
      this.deps.setStage(`committing ${id}: sending ${alerts.length} alerts to ${this.deps.alertsTopic}`);
      await sendChunked(tx, this.deps.alertsTopic, alerts);
      this.deps.setStage(`committing ${id}: sending ${t.changelog.length} changelog records`);
      changelogEnd = await sendChunked(tx, this.deps.changelogTopics[t.kind], t.changelog);
      if (t.offsets.size > 0) {
        this.deps.setStage(`committing ${id}: sending the consumed offsets (TxnOffsetCommit)`);
        await tx.sendOffsets({
          consumerGroupId: this.deps.group,
          // A source task's stream clock goes with its offsets (as Kafka Streams keeps partition time in the
          // offset metadata), so a restart whose input is all consumed still knows where stream time was.
          topics: [...t.offsets].map(([topic, offset]) => ({
            topic,
            partitions: [{ partition: t.partition, offset, ...(t.clock ? { metadata: JSON.stringify({ t: t.clock.snapshot().maxEventTime }) } : {}) }],
          })),
        });
      }
      this.deps.setStage(`committing ${id}: ending the transaction (EndTxn)`);
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      throw err;
    }
    if (this.deps.store && t.changelog.length > 0) {
      this.deps.setStage(`committing ${id}: writing the local state store`);
      const entries = t.changelog.map((m): StateEntry => [m.key!.toString(), m.value ? (m.value as Buffer) : null]);
      if (changelogEnd === undefined) await this.localWriteFailed(id, new Error('the broker returned no offset for the changelog records'));
      try {
        this.deps.store.writeSync(id, entries, String(changelogEnd));
      } catch (err) {
        await this.localWriteFailed(id, err);
      }
      // What was just written is on disk: windows not changed since may leave memory.
      this.deps.engines[t.kind]?.saved(t.partition);
    }
    for (const a of t.out.alerts) this.deps.log.warn({ metric: a.metric, dimensions: a.dimensions, value: a.value, state: a.state }, `alert ${a.state}: ${a.metric}`);
    this.deps.stats.commits++;
    if (channels.deriveCommit.hasSubscribers) {
      channels.deriveCommit.publish({ group: this.deps.group, task: id, values: values.length, alerts: alerts.length, changelog: t.changelog.length, commitMs: performance.now() - started });
    }
    for (const m of t.changelog) {
      const bytes = (m.key?.length ?? 0) + (m.value?.length ?? 0);
      this.deps.stats.changelogRecords++;
      if (m.value === null) this.deps.stats.changelogTombstones++;
      this.deps.stats.changelogBytes += bytes;
      if (bytes > this.deps.stats.changelogMaxRecordBytes) this.deps.stats.changelogMaxRecordBytes = bytes;
    }
    const repartitionOffset = t.offsets.get(this.deps.repartitionTopic);
    if (t.kind === 'agg' && repartitionOffset !== undefined) t.purgeBelow = repartitionOffset;
    this.deps.stats.produced += values.length + alerts.length;
    this.deps.stats.repartitioned += t.repartition.length;
    this.deps.prometheus.produced.inc(values.length + alerts.length);
    this.deps.prometheus.observe(t.out);
    this.toStatsd(t.out);
    this.deps.log.debug({ task: taskId(t.kind, t.partition), values: t.out.values.length, alerts: t.out.alerts.length, repartitioned: t.repartition.length, changelog: t.changelog.length }, 'transaction committed');
    t.changelog = undefined;
    if (t.pendingWatermark !== undefined) t.sentWatermark = JSON.stringify(t.pendingWatermark);
    for (const [metric, jw] of joinWms) t.sentJoinWatermarks!.set(metric, jw);
    t.pendingWatermark = undefined;
    t.out = emptyOutput();
    t.repartition = [];
    t.offsets.clear();
    t.dirty = false;
  }

  /**
   * A local write that failed leaves the copy at its previous checkpoint, while windows evicted from memory exist
   * only there: the task cannot go on. Its copy is dropped (the next start rebuilds it from the changelog, which
   * has everything committed) and the runner stops.
   */
  private async localWriteFailed(task: string, err: unknown): Promise<never> {
    this.deps.stats.localWriteFailures++;
    await this.deps.store?.clear(task).catch(() => undefined);
    // Not retriable: the transaction committed already, sending it again would emit its outputs twice.
    throw Object.assign(new Error(`could not write the local state store (--state-dir) for task ${task}: ${(err as Error).message}; restart to rebuild the task from its changelog`, { cause: err }), { retriable: false });
  }

  /** The committed values and alert transitions, to StatsD too (with DeriveOptions.statsd): sent after the commit, at most once. */
  private toStatsd(out: Pick<EngineOutput, 'values' | 'alerts'>): void {
    if (!this.deps.statsd) return;
    const prefix = this.deps.statsdOptions?.prefix ?? '';
    const global = this.deps.statsdOptions?.globalTags ?? {};
    const tagsOf = (dims: Record<string, string>, extra: Record<string, string> = {}) => {
      const tags: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...global, ...dims, ...extra })) tags[sanitizeTagName(k)] = sanitizeTagValue(v);
      return tags;
    };
    for (const v of out.values) {
      const name = sanitizeMetricName(`${prefix}${v.metric}`);
      const tags = tagsOf(v.dimensions);
      if (v.windowStart === undefined) this.deps.statsd.increment({ name, tags, value: v.value, key: '' });
      else if (Number.isFinite(v.value)) this.deps.statsd.gauge(name, v.value, tags);
    }
    for (const a of out.alerts) this.deps.statsd.increment({ name: sanitizeMetricName(`${prefix}${a.metric}.alert`), tags: tagsOf(a.dimensions, { state: a.state }), value: 1, key: '' });
  }
}
