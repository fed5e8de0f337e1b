/**
 * What the derive runner's unit of work is: a task, its id, and the watermark records tasks send each other
 * through the repartition topic; also what the restore and the commit, which work on tasks apart from the
 * runner, get from it. They live here so that the runner and those modules share them without importing each
 * other.
 */
import type { KafkaProducer, OutgoingRecord } from '../kafka/port.js';
import type { Logger } from '../log.js';
import type { EngineOutput, MetricEngine, MetricInput } from './engine.js';
import type { TaskStateStore } from './local-store.js';
import type { DerivePrometheus } from './prometheus.js';
import type { StreamClock } from './windows.js';

/**
 * A unit of work with its own transactional producer, as in Kafka Streams: a source task per input partition
 * number (reads that partition of every input topic; filters, joins, groups; writes to the repartition topic)
 * and an aggregate task per repartition partition (windows and joins; writes metric values, alerts, state).
 */
export interface Task {
  kind: 'src' | 'agg';
  partition: number;
  producer: KafkaProducer;
  /** Next offset per consumed topic, not yet committed. */
  offsets: Map<string, string>;
  out: EngineOutput;
  /** Metric inputs to send to the repartition topic in this task's next transaction. */
  repartition: MetricInput[];
  /**
   * The changelog records of the transaction being committed (one per state key changed since the last commit),
   * taken from the engine once and kept until the transaction commits, so a retry sends the same ones.
   */
  changelog?: OutgoingRecord[];
  /** Aggregate tasks: repartition records below this offset are committed and may be deleted. */
  purgeBelow?: string;
  dirty: boolean;
  /** Source tasks: event time seen (with idle advance), and the watermark last sent downstream. */
  clock?: StreamClock;
  /**
   * Next offset to process per consumed topic: at first the committed offset read after this task's producer
   * fenced the previous owner, then the offset after the last record processed. Records below it are skipped —
   * committed by the previous owner, or processed by this task and fetched again after a rebalance.
   */
  position: Map<string, bigint>;
  /**
   * Source tasks that have seen no event: whether every input partition was read to its end at the last check.
   * Only then, after idleMs, may the task say it has no input (a null watermark, which lets the others go on
   * without it); one with records still to fetch is waited for.
   */
  atEnd?: boolean;
  sentWatermark?: string;
  pendingWatermark?: Watermark;
  /** Aggregate tasks: the latest watermark per source partition. */
  watermarks?: Map<number, Watermark>;
  /** Aggregate tasks: per absence-join metric, the join watermark of every partition, and the one last sent. */
  joinWatermarks?: Map<string, Map<number, number>>;
  sentJoinWatermarks?: Map<string, number>;
  startedAt: number;
}

/**
 * A source task's progress, sent to every repartition partition after the data it covers: `t` the largest event
 * time it has seen, advanced with the wall clock once it has had no input for `idleMs`; null = it has had no
 * input at all for `idleMs` (then it does not hold the others back).
 */
export interface Watermark {
  w: number;
  t: number | null;
}

/** An aggregate task's absence-join progress for metric `m`: every event it will still forward is at ≥ `t`. */
export interface JoinWatermark {
  jw: number;
  m: string;
  t: number;
}

/**
 * The engine that keeps each kind of task's state: aggregate tasks always have one; source tasks only when some
 * metric is grouped by the input's key (and so aggregated in the source task, with no repartition round trip).
 */
export interface TaskEngines {
  agg: MetricEngine;
  src: MetricEngine | undefined;
}

/** What the restore and the commit both get from the runner (each gets more besides: see RestoreDeps, CommitDeps). */
export interface TaskDeps {
  log: Logger;
  /** The runner's consumer group: restores read with `<group>-restore`, commits commit the consumed offsets for it. */
  group: string;
  /** The changelog topic of each kind of task (partition p holds the state of task p). */
  changelogTopics: Record<Task['kind'], string>;
  engines: TaskEngines;
  /** Local copies of the tasks' state (with --state-dir). */
  store: TaskStateStore | undefined;
  prometheus: DerivePrometheus;
  /** Tells the runner what it is waiting on (for the stall watchdog's message; it leaves restores alone). */
  setStage: (stage: string) => void;
}

export const taskId = (kind: Task['kind'], partition: number) => `${kind}-${partition}`;

export function isFenced(err: unknown): boolean {
  const e = err as { type?: string; name?: string; message?: string };
  return /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|fenced/i.test(`${e?.type ?? ''} ${e?.message ?? ''}`);
}
