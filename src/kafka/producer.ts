import type { KafkaAdmin, KafkaClient, KafkaProducer, OutgoingRecord } from './port.js';
import { KafkaAuthorizationError, KafkaDeliveryError } from '../errors.js';
import type { KafkaErrorContext } from './errors.js';
import { partitionForKey } from './murmur2.js';

export interface ProduceRecord {
  topic: string;
  key: string | null;
  value: Buffer;
  /** Header values; constant ones are best passed as shared Buffers (kafkajs copies them as they are). */
  headers: Record<string, string | Buffer>;
  timestampMs: number;
  /** Set by the sender before the first attempt and kept across retries. */
  partition?: number;
}

/** Where the broker wrote one record. */
export interface RecordPosition {
  topic: string;
  partition: number;
  offset: string;
}

export interface ProducerPortOptions {
  /** Topic metadata (partition counts) is refreshed after this long, as the Java client's metadata.max.age.ms. */
  metadataMaxAgeMs: number;
  /** Per-request timeout the broker gets to replicate and answer with acks=all. */
  requestTimeoutMs: number;
}

/**
 * The idempotent producer behind the publisher. Partitions are chosen here, with Java's murmur2 for keyed
 * records and round robin otherwise, so each record's offset is known from the broker's base offset.
 * kafkajs rolls sequence numbers back when a request fails, so resending the same batch after an error is
 * deduplicated by the broker; after giving up on a batch, `reset()` starts a new producer id so no later
 * batch can be mistaken for the abandoned one.
 */
export class ProducerPort {
  private producer: KafkaProducer | undefined;
  private admin: KafkaAdmin | undefined;
  private readonly partitions = new Map<string, { count: number; at: number }>();
  private roundRobin = 0;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly options: ProducerPortOptions,
  ) {}

  private async ensure(): Promise<KafkaProducer> {
    if (!this.producer) {
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, retries: 5 });
      await producer.connect();
      this.producer = producer;
    }
    return this.producer;
  }

  async connect(): Promise<void> {
    await this.ensure();
  }

  /** Partition count of a topic, cached for metadataMaxAgeMs. Throws KafkaDeliveryError when the topic is missing. */
  async partitionCount(topic: string): Promise<number> {
    const cached = this.partitions.get(topic);
    if (cached && Date.now() - cached.at < this.options.metadataMaxAgeMs) return cached.count;
    if (!this.admin) {
      // Kept only once connected: a failed connect() closes the admin, and the next call starts a new one.
      const admin = this.kafka.admin({ retries: 2 });
      await admin.connect();
      this.admin = admin;
    }
    let count: number;
    try {
      const meta = await this.admin.fetchTopicMetadata({ topics: [topic] });
      count = meta.topics[0]?.partitions.length ?? 0;
    } catch (err) {
      const e = err as { type?: string; message?: string };
      if (e.type === 'TOPIC_AUTHORIZATION_FAILED') throw new KafkaAuthorizationError('topic', topic, 'DESCRIBE (and WRITE)', { cause: err });
      if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION' || /does not host this topic-partition|unknown topic/i.test(e.message ?? '')) {
        throw new KafkaDeliveryError(topic, 'the topic does not exist (create it first; the publisher never auto-creates topics)', { cause: err });
      }
      throw err;
    }
    if (count === 0) throw new KafkaDeliveryError(topic, 'the topic has no partitions');
    this.partitions.set(topic, { count, at: Date.now() });
    return count;
  }

  partitionFor(key: string | null, count: number): number {
    if (key === null) return this.roundRobin++ % count;
    return partitionForKey(key, count);
  }

  /**
   * Sends one batch with acks=all and returns each record's position, in input order. Rejects with the
   * client's error; the caller decides whether to retry the same batch (`KafkaClient.isRetriable`).
   */
  async send(records: ReadonlyArray<ProduceRecord & { partition: number }>): Promise<RecordPosition[]> {
    const producer = await this.ensure();
    const byTopic = new Map<string, OutgoingRecord[]>();
    for (const r of records) {
      let list = byTopic.get(r.topic);
      if (!list) byTopic.set(r.topic, (list = []));
      list.push({ key: r.key, value: r.value, headers: r.headers, partition: r.partition, timestamp: String(r.timestampMs) });
    }
    const result = await producer.sendBatch({
      acks: -1,
      timeout: this.options.requestTimeoutMs,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    // Offsets stay below 2^53 in practice, so plain numbers are exact here; the string keeps the API honest.
    const next = new Map<string, number[]>();
    for (const m of result) {
      let perPartition = next.get(m.topicName);
      if (!perPartition) next.set(m.topicName, (perPartition = []));
      perPartition[m.partition] = Number(m.baseOffset ?? '-1');
    }
    return records.map((r) => {
      const perPartition = next.get(r.topic);
      const offset = perPartition?.[r.partition];
      if (offset === undefined || offset < 0) return { topic: r.topic, partition: r.partition, offset: '-1' };
      perPartition![r.partition] = offset + 1;
      return { topic: r.topic, partition: r.partition, offset: String(offset) };
    });
  }

  /** The package's typed error for one of the client's failures (see KafkaClient.classify). */
  classify(err: unknown, context?: KafkaErrorContext): unknown {
    return this.kafka.classify(err, context);
  }

  /** Whether sending the same batch again may succeed (the idempotent producer deduplicates it). */
  isRetriable(err: unknown): boolean {
    return this.kafka.isRetriable(err);
  }

  /** Drops the producer (and its producer id); the next send starts a new one. */
  async reset(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect().catch(() => undefined);
  }

  async disconnect(): Promise<void> {
    await this.reset();
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }
}
