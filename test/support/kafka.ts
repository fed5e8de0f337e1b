/**
 * Kafka helpers for tests that run against the suite broker started by scripts/test.mjs (`npm test`).
 * Outside `npm test`, export KAFKA_BROKERS yourself, e.g. `eval "$(node bin/multidispatch.js dev up --print-env)"`.
 */
import { randomBytes } from 'node:crypto';
import { createKafkaClient, kafkaConnectionSchema } from '../../src/kafka/client.js';
import type { KafkaClient, KafkaClientName } from '../../src/kafka/port.js';
import { Kafka, logLevel, type Admin, type IHeaders, type KafkaMessage } from 'kafkajs';
import { restartKafka, type KafkaHandle } from '../../src/dev/kafka.js';

/** Broker list from KAFKA_BROKERS (comma separated); throws a clear error when it is not set. */
export function brokers(): string[] {
  const raw = process.env.KAFKA_BROKERS;
  if (!raw) {
    throw new Error(
      'KAFKA_BROKERS is not set: run the tests with `npm test` (it starts a broker), or start one with ' +
        '`eval "$(node bin/multidispatch.js dev up --print-env)"` and run node --import tsx --test <file>',
    );
  }
  return raw.split(',').map((b) => b.trim()).filter(Boolean);
}

/** A kafkajs client for the suite broker with kafkajs' own logging off. */
export function kafka(clientId = 'multidispatch-test'): Kafka {
  return new Kafka({ clientId, brokers: brokers(), logLevel: logLevel.NOTHING });
}

/** The package's own Kafka client (the port, on the default adapter) for the suite broker. */
export function kafkaClient(clientId = 'multidispatch-test', client?: KafkaClientName): KafkaClient {
  return createKafkaClient(kafkaConnectionSchema.parse({ clientId, brokers: brokers(), ...(client && { client }) }));
}

export const randomSuffix = (): string => randomBytes(4).toString('hex');

/** Anything with node:test's `after` (a TestContext, or the suite-level `{ after }` from node:test). */
export interface Cleanup {
  after(fn: () => unknown): unknown;
}

/**
 * Right after CreateTopics a partition can briefly answer NOT_LEADER_OR_FOLLOWER even though metadata already
 * names its leader (seen once on Kafka 4.2.2 under load); wait until ListOffsets succeeds on every partition.
 */
export async function untilServed(admin: Admin, topic: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      await admin.fetchTopicOffsets(topic);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Creates `<prefix>-<random>` with `partitions` partitions and deletes it when `t` finishes. */
export async function freshTopic(t: Cleanup, opts: { partitions?: number; prefix?: string; config?: Record<string, string> } = {}): Promise<string> {
  const topic = `${opts.prefix ?? 'test'}-${Date.now().toString(36)}-${randomSuffix()}`;
  const admin = kafka('multidispatch-test-admin').admin();
  await admin.connect();
  try {
    const configEntries = Object.entries(opts.config ?? {}).map(([name, value]) => ({ name, value }));
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: opts.partitions ?? 3, configEntries }], waitForLeaders: true });
    if (!created) throw new Error(`topic ${topic} already existed`);
    await untilServed(admin, topic);
  } finally {
    await admin.disconnect();
  }
  t.after(async () => {
    const a = kafka('multidispatch-test-admin').admin();
    try {
      await a.connect();
      await a.deleteTopics({ topics: [topic] });
    } catch {
      /* the broker may be down in a fault test; the suite data dir is thrown away anyway */
    } finally {
      await a.disconnect().catch(() => undefined);
    }
  });
  return topic;
}

export interface ReadMessage {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  /** Raw bytes: payloads may be protobuf. `value?.toString()` for text. */
  value: Buffer | null;
  /** Header values decoded as UTF-8; a repeated header keeps its last value (see `raw.headers` for all). */
  headers: Record<string, string>;
  raw: KafkaMessage;
}

function decodeHeaders(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out[k] = last.toString();
  }
  return out;
}

/**
 * Reads `count` messages from the beginning of `topic` with an independent consumer (a fresh group id,
 * read_committed unless `readUncommitted`), sorted by partition then offset. Rejects after `timeoutMs`
 * (default 30 s) saying how many arrived. With `settleMs`, keeps reading that long after `count` arrived, so
 * extra messages (duplicates) show up in the result instead of being silently left unread.
 */
export async function readAll(
  topic: string,
  opts: { count: number; timeoutMs?: number; readUncommitted?: boolean; settleMs?: number },
): Promise<ReadMessage[]> {
  const consumer = kafka('multidispatch-test-reader').consumer({
    groupId: `test-reader-${randomSuffix()}`,
    readUncommitted: opts.readUncommitted ?? false,
  });
  const got: ReadMessage[] = [];
  let timer: NodeJS.Timeout | undefined;
  let settle: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((res, rej) => {
      timer = setTimeout(
        () => rej(new Error(`readAll(${topic}): got ${got.length} of ${opts.count} message(s) within ${opts.timeoutMs ?? 30_000} ms`)),
        opts.timeoutMs ?? 30_000,
      );
      const enough = () => {
        if (got.length < opts.count || settle) return;
        clearTimeout(timer);
        if (opts.settleMs) settle = setTimeout(res, opts.settleMs);
        else res();
      };
      enough();
      consumer
        .run({
          eachMessage: async ({ topic: tp, partition, message }) => {
            got.push({ topic: tp, partition, offset: message.offset, timestamp: message.timestamp, key: message.key?.toString() ?? null,
              value: message.value, headers: decodeHeaders(message.headers), raw: message });
            enough();
          },
        })
        .catch(rej);
    });
  } finally {
    clearTimeout(timer);
    clearTimeout(settle);
    await consumer.disconnect().catch(() => undefined);
  }
  return got.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

/**
 * Stops the suite broker and starts it again on the same port and data dir after `downMs` (default 0).
 * Clients keep the same KAFKA_BROKERS address. Only for tests run through `npm test`.
 */
export async function restartBroker(opts: { downMs?: number; timeoutMs?: number } = {}): Promise<KafkaHandle> {
  const dataDir = process.env.MULTIDISPATCH_TEST_KAFKA_DATA_DIR;
  if (!dataDir) throw new Error('MULTIDISPATCH_TEST_KAFKA_DATA_DIR is not set: restartBroker() needs the suite broker of `npm test`');
  return restartKafka(dataDir, { downMs: opts.downMs, timeoutMs: opts.timeoutMs });
}

/** The sum of a topic's end offsets (its records, plus transaction markers when written in transactions). */
export async function endOffsetSum(topic: string): Promise<number> {
  const admin = kafka('multidispatch-test-admin').admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}
