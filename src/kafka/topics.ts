import type { KafkaAdmin, KafkaClient } from './port.js';
import { KafkaAuthorizationError, OptionsError, TopologyError } from '../errors.js';

/**
 * Topic management for `multidispatch topics`: create, list, describe, delete. Each function connects its own
 * admin client and always disconnects it, so a caller holds nothing open after an error.
 */

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Replicas per partition; the broker's default.replication.factor when absent. */
  replicationFactor?: number;
  /** Topic configs by Kafka's names (`cleanup.policy`, `retention.ms`, …). */
  config?: Record<string, string>;
}

export interface CreateTopicsResult {
  created: string[];
  /** Topics that already existed (only with `ifNotExists`), with the partition count they have. */
  existing: Array<{ topic: string; partitions: number }>;
}

export interface TopicSummary {
  topic: string;
  partitions: number;
  replicationFactor: number;
}

export interface PartitionDescription {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface TopicDescription {
  topic: string;
  partitions: PartitionDescription[];
  replicationFactor: number;
  /** The configs set on the topic itself (not broker or built-in defaults); sensitive values are masked. */
  configs: Record<string, string>;
}

const DELETE_WAIT_MS = 15_000;

async function withAdmin<T>(kafka: KafkaClient, fn: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await fn(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function missingError(missing: string[], hint: string): TopologyError {
  return new TopologyError(missing[0]!, `topic(s) not found: ${missing.join(', ')}${hint}`);
}

/**
 * Creates topics and waits until each partition has a leader. A topic that exists already is a TopologyError
 * naming it (nothing is created), unless `ifNotExists`: then it is skipped and reported in `existing`.
 *
 * @example
 * await createTopics(kafka, [{ topic: 'orders.v1', partitions: 6, config: { 'cleanup.policy': 'compact' } }], { ifNotExists: true });
 */
export async function createTopics(kafka: KafkaClient, specs: readonly TopicSpec[], options: { ifNotExists?: boolean } = {}): Promise<CreateTopicsResult> {
  return withAdmin(kafka, async (admin) => {
    const names = new Set(await admin.listTopics());
    const present = specs.filter((s) => names.has(s.topic));
    if (present.length > 0 && !options.ifNotExists) {
      throw new TopologyError(present[0]!.topic, `topic(s) already exist: ${present.map((s) => s.topic).join(', ')} (nothing was created; pass --if-not-exists to skip them)`);
    }
    const missing = specs.filter((s) => !names.has(s.topic));
    if (missing.length > 0) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          timeout: 30_000,
          topics: missing.map((s) => ({
            topic: s.topic,
            numPartitions: s.partitions,
            replicationFactor: s.replicationFactor ?? -1,
            configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
      } catch (err) {
        throw creationError(err);
      }
    }
    const existing = present.length === 0 ? [] : (await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) })).topics;
    return {
      created: missing.map((s) => s.topic),
      existing: existing.map((t) => ({ topic: t.name, partitions: t.partitions.length })).sort((a, b) => a.topic.localeCompare(b.topic)),
    };
  });
}

/** kafkajs reports per-topic failures as one aggregate (without the broker's own message); name each topic. */
function creationError(err: unknown): unknown {
  const errors = (err as { errors?: Array<{ topic?: string; type?: string; message?: string }> }).errors;
  if ((err as Error)?.name !== 'KafkaJSAggregateError' || !Array.isArray(errors) || errors.length === 0) return err;
  const first = errors[0]!;
  const topic = first.topic ?? '(unknown)';
  const all = errors.map((e) => `${e.topic}: ${e.message}`).join('; ');
  switch (first.type) {
    case 'TOPIC_ALREADY_EXISTS':
      return new TopologyError(topic, `topic(s) already exist: ${errors.map((e) => e.topic).join(', ')} (created by someone else meanwhile)`);
    case 'TOPIC_AUTHORIZATION_FAILED':
    case 'CLUSTER_AUTHORIZATION_FAILED':
      return new KafkaAuthorizationError('topic', topic, 'create', { cause: err });
    case 'INVALID_CONFIG':
      return new OptionsError('config', `the broker rejected the topic configuration (${all}); check the --cleanup-policy and --config names and values`);
    case 'INVALID_REPLICATION_FACTOR':
    case 'INVALID_REPLICA_ASSIGNMENT':
      return new OptionsError('replicationFactor', `the broker rejected it (${all})`);
    case 'INVALID_PARTITIONS':
      return new OptionsError('partitions', `the broker rejected it (${all})`);
    case 'INVALID_TOPIC_EXCEPTION':
      return new OptionsError('topic', `the broker rejected the name (${all})`);
    default:
      return new Error(`topic creation failed: ${all}`, { cause: err });
  }
}

/**
 * Every topic with its partition count and replication factor, sorted by name. Internal topics (`__`-prefixed,
 * such as `__consumer_offsets`) only with `internal`.
 */
export async function listTopics(kafka: KafkaClient, options: { internal?: boolean } = {}): Promise<TopicSummary[]> {
  return withAdmin(kafka, async (admin) => {
    const { topics } = await admin.fetchTopicMetadata();
    return topics
      .filter((t) => options.internal || !t.name.startsWith('__'))
      .map((t) => ({ topic: t.name, partitions: t.partitions.length, replicationFactor: replicationOf(t.partitions) }))
      .sort((a, b) => a.topic.localeCompare(b.topic));
  });
}

function replicationOf(partitions: ReadonlyArray<{ replicas: number[] }>): number {
  return partitions.reduce((max, p) => Math.max(max, p.replicas.length), 0);
}

/**
 * Partitions (leader, replicas, in-sync replicas) and the configs set on each topic, in the order asked. A
 * topic that does not exist is a TopologyError naming every missing one.
 *
 * @example
 * const [d] = await describeTopics(kafka, ['orders.v1']); // d.configs['cleanup.policy'] === 'compact'
 */
export async function describeTopics(kafka: KafkaClient, topics: readonly string[]): Promise<TopicDescription[]> {
  return withAdmin(kafka, async (admin) => {
    const names = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !names.has(t));
    if (missing.length > 0) throw missingError(missing, '');
    const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
    const configs = await admin.describeTopicConfigs([...topics]);
    const configsOf = new Map(configs.map((r) => [r.topic, r.entries]));
    const byName = new Map(metadata.topics.map((t) => [t.name, t]));
    return topics.map((name) => {
      const t = byName.get(name);
      if (!t) throw missingError([name], ' (deleted meanwhile)');
      const own: Record<string, string> = {};
      for (const e of configsOf.get(t.name) ?? []) {
        if (e.isTopicConfig) own[e.configName] = e.isSensitive ? '(sensitive)' : e.configValue ?? '';
      }
      const partitions = [...t.partitions]
        .sort((a, b) => a.partitionId - b.partitionId)
        .map((p) => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr }));
      return { topic: name, partitions, replicationFactor: replicationOf(t.partitions), configs: sortKeys(own) };
    });
  });
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Deletes topics and waits (up to 15 s) until the cluster no longer lists them. Any missing topic is a
 * TopologyError naming it, and then nothing is deleted.
 */
export async function deleteTopics(kafka: KafkaClient, topics: readonly string[]): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const names = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !names.has(t));
    if (missing.length > 0) throw missingError(missing, ' (nothing was deleted)');
    await admin.deleteTopics({ topics: [...topics], timeout: DELETE_WAIT_MS });
    const deadline = Date.now() + DELETE_WAIT_MS;
    for (;;) {
      const left = new Set(await admin.listTopics());
      if (!topics.some((t) => left.has(t)) || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  });
}
