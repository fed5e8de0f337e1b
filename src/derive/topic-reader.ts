import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';

export interface TopicRead {
  /** Undefined when nothing had to be read and nothing is followed. */
  consumer: Consumer | undefined;
  /** Resolves once every partition read reached the end offset it had when the read started. */
  caughtUp: Promise<void>;
  /** `topic:partition` of the partitions not caught up yet. */
  pending: () => string[];
}

/**
 * Reads `topics` from the beginning (read_committed) with a consumer of its own (a fresh group, no committed
 * offsets), handing every batch to `onBatch`. `caughtUp` resolves once every partition reached the end offset it
 * had when this was called (transaction markers count in offsets, so a batch at the high watermark also counts).
 * `partitions` limits what counts (and what is handed on) to those partitions. With `follow` the consumer keeps
 * running afterwards; without it, nothing is started when there is nothing to read.
 */
export async function readFromStart(
  kafka: Kafka,
  options: { topics: string[]; group: string; follow: boolean; partitions?: ReadonlySet<number> },
  onBatch: (batch: EachBatchPayload['batch']) => void,
): Promise<TopicRead> {
  const { topics, follow, partitions } = options;
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, bigint>();
  try {
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        if (partitions && !partitions.has(o.partition)) continue;
        if (BigInt(o.high) > BigInt(o.low)) ends.set(`${topic}:${o.partition}`, BigInt(o.high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  let caughtUpNow!: () => void;
  const caughtUp = new Promise<void>((r) => (caughtUpNow = r));
  if (ends.size === 0) {
    caughtUpNow();
    if (!follow) return { consumer: undefined, caughtUp, pending: () => [] };
  }
  const consumer = kafka.consumer({ groupId: `${options.group}-${randomUUID()}`, readUncommitted: false, sessionTimeout: 30_000, maxBytesPerPartition: 4 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      if (partitions && !partitions.has(batch.partition)) return;
      onBatch(batch);
      const k = `${batch.topic}:${batch.partition}`;
      const end = ends.get(k);
      const next = BigInt(batch.lastOffset()) + 1n;
      if (end !== undefined && (next >= end || BigInt(batch.highWatermark) <= next)) {
        ends.delete(k);
        if (ends.size === 0) caughtUpNow();
      }
    },
  });
  return { consumer, caughtUp, pending: () => [...ends.keys()] };
}
