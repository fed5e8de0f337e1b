import { randomUUID } from 'node:crypto';
import type { KafkaClient } from './port.js';
import { TopologyError } from '../errors.js';
import { missingTopics } from './admin.js';

export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface TailOptions {
  topic: string;
  fromBeginning: boolean;
  /** Stop after this many records. */
  max?: number;
  /** Stop after this long without a new record (only once caught up). */
  idleMs?: number;
  signal?: AbortSignal;
}

/**
 * Reads a topic with a throwaway consumer group (deleted afterwards, nothing committed) and hands each
 * record to `onRecord` in partition order. Resolves when `max` records were read, the topic stayed idle
 * for `idleMs`, or `signal` aborted.
 */
export async function tailTopic(kafka: KafkaClient, options: TailOptions, onRecord: (r: RawRecord) => void): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if ((await missingTopics(admin, [options.topic], 'DESCRIBE and READ')).length > 0) throw new TopologyError(options.topic, `topic ${options.topic} not found on the cluster`);
  } catch (err) {
    await admin.disconnect();
    throw err;
  }
  const groupId = `multidispatch-tail-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  let count = 0;
  let lastAt = Date.now();
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => ((finish = res), (fail = rej)));
  // A crash the client will not recover from (an ACL denies the group, the broker went away for good) ends the run
  // instead of leaving it waiting; a retriable one (the coordinator is still loading) restarts the consumer by itself.
  consumer.onCrash((error, restart) => {
    if (!restart) fail(error);
  });
  let idle: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [options.topic], fromBeginning: options.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset, isStale, isRunning }) => {
        const { topic, partition } = batch;
        for (const message of batch.messages) {
          if (!isRunning() || isStale() || (options.max !== undefined && count >= options.max)) return;
          count++;
          lastAt = Date.now();
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = Array.isArray(v) ? v.map(String).join(',') : v === undefined ? '' : v.toString();
          onRecord({ topic, partition, offset: message.offset, timestamp: message.timestamp, key: message.key, value: message.value, headers });
          resolveOffset(message.offset);
          if (options.max !== undefined && count >= options.max) finish();
        }
      },
    });
    options.signal?.addEventListener('abort', () => finish(), { once: true });
    idle = options.idleMs
      ? setInterval(() => {
          if (Date.now() - lastAt >= options.idleMs!) finish();
        }, Math.min(options.idleMs, 250))
      : undefined;
    await done;
  } finally {
    if (idle) clearInterval(idle);
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  return count;
}
