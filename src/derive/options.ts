/**
 * The options of the derive runner and their check. The schema runs before anything is opened, so a mistyped
 * option is reported by name instead of surfacing later as a broker error; it also names the internal topics,
 * hence the topic-name rule on the group.
 */
import { isIP } from 'node:net';
import type { Logger } from '../log.js';
import { z } from 'zod';
import type { KafkaConnectionOptions } from '../kafka/client.js';
import type { EventSchema } from '../schema/types.js';
import type { ResolvedMetric } from './definitions.js';

export interface DeriveOptions {
  kafka: KafkaConnectionOptions;
  schema: EventSchema;
  metrics: readonly ResolvedMetric[];
  /** Consumer group; also names the internal topics (`<group>-repartition`, `<group>-changelog`) and transactional ids. */
  group?: string;
  /** Input topics (default: the topics of the metrics' event types, after `topicRenames`). */
  topics?: string[];
  /** Topic of each table (default: the topic of the table's event type, after `topicRenames`). */
  tableTopics?: Record<string, string>;
  topicRenames?: Record<string, string>;
  metricsTopic?: string;
  alertsTopic?: string;
  /** Stream time advances with the wall clock after this long without input (0: never). */
  idleMs?: number;
  /** How often outputs, state and offsets are committed (one Kafka transaction per task); > 0. */
  commitIntervalMs?: number;
  /** How often consumed records of the repartition topic are deleted (below the committed offsets); > 0. */
  repartitionPurgeIntervalMs?: number;
  /**
   * Also send the committed values to StatsD (hot-shots, DogStatsD tags, the publisher's sanitising): windowed
   * values as gauges `<prefix><metric>`, per-event values as counters, alert transitions as counters
   * `<prefix><metric>.alert` tagged with the state. Sent after the transaction commits (at most once).
   */
  statsd?: { host?: string; port?: number; prefix?: string; globalTags?: Record<string, string> };
  /** Serve Prometheus /metrics, /healthz and /readyz on this port (0: a free one); omit for none. */
  prometheusPort?: number;
  /**
   * The address that endpoint binds to (default 127.0.0.1, loopback only; `0.0.0.0` or `::` for every
   * interface, so that a Prometheus server or a kubelet elsewhere can reach it). Needs `prometheusPort`.
   */
  prometheusHost?: string;
  /**
   * Keep every task's state on local disk (LMDB) under `<stateDir>/<group>/`, with the changelog offset it
   * reflects: a restart then reads only the changelog after it. Omit to rebuild every task from its changelog.
   */
  stateDir?: string;
  /**
   * With `stateDir`: tumbling/hopping windows are read from the local store on demand, and at most this many
   * windows per metric and task stay cached in memory besides those changed since the last commit (default 50,000).
   */
  stateCacheKeys?: number;
  logger?: Logger;
}

const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const PROMETHEUS_HOST_RULE = 'must be an IP address (127.0.0.1, 0.0.0.0, ::; no brackets, no port) or a host name';

/** Whether `host` is something to bind to: an IP address, or a host name (not a mistyped address like 10.0.0.256). */
export function isBindHost(host: string): boolean {
  return isIP(host) !== 0 || (HOST_NAME.test(host) && !/^[\d.]+$/.test(host));
}

export const runnerOptionsSchema = z
  .object({
    group: z.string().regex(TOPIC, 'must be letters, digits, . _ - (it names topics)').max(200).optional(),
    topics: z.array(z.string().regex(TOPIC, 'must be a topic name')).min(1).optional(),
    tableTopics: z.record(z.string().regex(TOPIC, 'must be a topic name')).optional(),
    topicRenames: z.record(z.string().regex(TOPIC, 'must be a topic name')).optional(),
    metricsTopic: z.string().regex(TOPIC, 'must be a topic name').optional(),
    alertsTopic: z.string().regex(TOPIC, 'must be a topic name').optional(),
    idleMs: z.number().int('must be a whole number of ms').nonnegative('must be >= 0 (0: never)').optional(),
    commitIntervalMs: z.number().int('must be a whole number of ms').positive('must be > 0').optional(),
    repartitionPurgeIntervalMs: z.number().int('must be a whole number of ms').positive('must be > 0').optional(),
    statsd: z.object({ host: z.string().min(1).optional(), port: z.number().int().min(1).max(65535).optional(), prefix: z.string().optional(), globalTags: z.record(z.string()).optional() }).strict().optional(),
    prometheusPort: z.number().int().min(0).max(65535).optional(),
    prometheusHost: z.string().refine(isBindHost, PROMETHEUS_HOST_RULE).optional(),
    stateDir: z.string().min(1, 'must be a directory path').optional(),
    stateCacheKeys: z.number().int('must be a whole number').positive('must be > 0').optional(),
    kafka: z.unknown(),
    schema: z.unknown(),
    metrics: z.array(z.unknown()),
    logger: z.unknown().optional(),
  })
  .strict()
  .refine((o) => o.prometheusHost === undefined || o.prometheusPort !== undefined, { path: ['prometheusHost'], message: 'needs prometheusPort (without it nothing is served)' });
