import type { KafkaAdmin, KafkaClient } from './port.js';
import { KafkaAuthorizationError } from '../errors.js';

/**
 * The topics of `wanted` that do not exist. A topic the principal may not DESCRIBE is hidden from the topic list just
 * as a missing one is; each unlisted topic is asked for by name, and one the broker refuses becomes a
 * KafkaAuthorizationError naming it (Kafka answers TOPIC_AUTHORIZATION_FAILED, whether or not it exists).
 */
export async function missingTopics(admin: KafkaAdmin, wanted: readonly string[], operation: string): Promise<string[]> {
  const listed = new Set(await admin.listTopics());
  const missing: string[] = [];
  for (const topic of wanted.filter((t) => !listed.has(t))) {
    try {
      await admin.fetchTopicMetadata({ topics: [topic] });
    } catch (err) {
      if ((err as { type?: string }).type === 'TOPIC_AUTHORIZATION_FAILED') throw new KafkaAuthorizationError('topic', topic, operation, { cause: err });
      missing.push(topic);
      continue;
    }
    // Listed by name but not in the list: it appeared meanwhile.
  }
  return missing;
}

/** Creates the topics that do not exist yet (idempotent); returns the names it created. */
export async function ensureTopics(kafka: KafkaClient, topics: ReadonlyArray<{ topic: string; partitions: number; config?: Record<string, string> }>): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          replicationFactor: 1,
          configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(kafka: KafkaClient, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}
