import { randomUUID } from 'node:crypto';
import type { EachBatchContext, KafkaClient, KafkaConsumer } from './port.js';

export interface TopicRead {
  /** Undefined when nothing had to be read and nothing is followed. */
  consumer: KafkaConsumer | undefined;
  /** Resolves once every partition read reached the end offset it had when the read started. */
  caughtUp: Promise<void>;
  /** `topic:partition` of the partitions not caught up yet. */
  pending: () => string[];
  /** The end offset (high watermark) of every partition read, as of the start of the read. */
  ends: Map<string, bigint>;
}

/**
 * Reads `topics` from the beginning (read_committed) with a consumer of its own (a fresh group, no committed
 * offsets), handing every batch to `onBatch`. `caughtUp` resolves once every partition reached the end offset it
 * had when this was called (transaction markers count in offsets, so a batch at the high watermark also counts).
 * `partitions` limits what counts (and what is handed on) to those partitions. With `follow` the consumer keeps
 * running afterwards; without it, nothing is started when there is nothing to read. `from` starts partitions
 * (`topic:partition`) at an offset instead: records below it are never handed on, even if fetched before the seek.
 */
export async function readFromStart(
  kafka: KafkaClient,
  options: { topics: string[]; group: string; follow: boolean; partitions?: ReadonlySet<number>; from?: ReadonlyMap<string, bigint>; maxWaitTimeInMs?: number },
  onBatch: (batch: EachBatchContext['batch']) => void,
): Promise<TopicRead> {
  const { topics, follow, partitions } = options;
  const from = options.from ?? new Map<string, bigint>();
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, bigint>();
  const highs = new Map<string, bigint>();
  try {
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        if (partitions && !partitions.has(o.partition)) continue;
        const k = `${topic}:${o.partition}`;
        highs.set(k, BigInt(o.high));
        if (BigInt(o.high) > BigInt(o.low) && BigInt(o.high) > (from.get(k) ?? -1n)) ends.set(k, BigInt(o.high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  let caughtUpNow!: () => void;
  const caughtUp = new Promise<void>((r) => (caughtUpNow = r));
  if (ends.size === 0) {
    caughtUpNow();
    if (!follow) return { consumer: undefined, caughtUp, pending: () => [], ends: highs };
  }
  const consumer = kafka.consumer({
    groupId: `${options.group}-${randomUUID()}`, readUncommitted: false, sessionTimeout: 30_000, maxBytesPerPartition: 4 * 1024 * 1024,
    ...(options.maxWaitTimeInMs !== undefined ? { maxWaitTimeInMs: options.maxWaitTimeInMs } : {}),
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const progressed = (k: string, lastOffset: string, highWatermark: string) => {
    const end = ends.get(k);
    const next = BigInt(lastOffset) + 1n;
    if (end !== undefined && (next >= end || BigInt(highWatermark) <= next)) {
      ends.delete(k);
      if (ends.size === 0) caughtUpNow();
    }
  };
  // A fetch that holds only transaction markers or aborted records reaches no eachBatch; it still ends a batch.
  consumer.onBatchEnd((payload) => {
    if (!partitions || partitions.has(payload.partition)) progressed(`${payload.topic}:${payload.partition}`, payload.lastOffset, payload.highWatermark);
  });
  await consumer.run({
    // A throwaway group: nothing to commit; every record of a batch is done once onBatch has it.
    autoCommit: false,
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => {
      if (partitions && !partitions.has(batch.partition)) return;
      const k = `${batch.topic}:${batch.partition}`;
      const start = from.get(k);
      if (start === undefined) onBatch(batch);
      else {
        const messages = batch.messages.filter((m) => BigInt(m.offset) >= start);
        if (messages.length > 0) onBatch(Object.assign(Object.create(Object.getPrototypeOf(batch) as object) as typeof batch, batch, { messages }));
      }
      progressed(k, batch.lastOffset(), batch.highWatermark);
    },
  });
  for (const [k, offset] of from) {
    const at = k.lastIndexOf(':');
    consumer.seek({ topic: k.slice(0, at), partition: Number(k.slice(at + 1)), offset: String(offset) });
  }
  return { consumer, caughtUp, pending: () => [...ends.keys()], ends: highs };
}
