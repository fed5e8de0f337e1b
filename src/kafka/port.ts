/**
 * The Kafka port: the one Kafka API the rest of the package programs against. Each client library lives behind an
 * adapter in `src/kafka/<client>/`; nothing outside those folders imports a Kafka client.
 *
 * The shapes follow what the loader, derive, tail and the publisher need, in the vocabulary of the Java client
 * where it has one: offsets, timestamps and high watermarks are decimal strings (exact past 2^53), keys, values
 * and header values are Buffers as they came off the wire. The contract every adapter meets is tested in
 * test/kafka/contract.test.ts against a real broker.
 *
 * Errors: an adapter rejects with an Error whose `type` is the Kafka protocol error name when the broker sent one
 * (`TOPIC_AUTHORIZATION_FAILED`, `UNKNOWN_TOPIC_OR_PARTITION`, …) and whose `retriable` says whether the same request
 * may be sent again. `KafkaClient.classify` turns any of its errors into the package's typed errors.
 */
import type { KafkaErrorContext } from './errors.js';

/** The client libraries an adapter exists for. */
export const KAFKA_CLIENTS = ['kafkajs', 'platformatic'] as const;
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];

// ---------------------------------------------------------------------------------------------------------------
// Records

export type HeaderValue = Buffer | string;

/** A record to produce. */
export interface OutgoingRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  /** Header values: constant ones are best passed as shared Buffers. */
  headers?: Record<string, HeaderValue>;
  /** Partition chosen by the caller; without it the adapter uses Java's default partitioner (murmur2 on the key). */
  partition?: number;
  /** Epoch milliseconds, as a decimal string. */
  timestamp?: string;
}

export interface TopicRecords {
  topic: string;
  messages: OutgoingRecord[];
}

/** Where one produce request's records for a partition landed: the first record's offset. */
export interface ProduceAck {
  topicName: string;
  partition: number;
  baseOffset: string;
}

/** A record as consumed. */
export interface IncomingRecord {
  offset: string;
  /** Epoch milliseconds, as a decimal string. */
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Header values as Buffers; a header sent more than once reads as an array. */
  headers: Record<string, Buffer | Buffer[] | undefined>;
}

/** The records one fetch returned for one partition. */
export interface RecordBatch {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: IncomingRecord[];
  /** Offset of the last record the fetch covered, control records (transaction markers) included. */
  lastOffset(): string;
  /** The offset the fetch asked for (where the batch starts, even when its first records were filtered out). */
  readonly fetchedOffset: string;
}

export interface EachBatchContext {
  batch: RecordBatch;
  /** Marks the records up to and including `offset` processed (the consumer's position moves past it). */
  resolveOffset(offset: string): void;
  /** Tells the group coordinator this member is alive during long processing. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping. */
  isRunning(): boolean;
  /** True once this batch's partition was revoked or seeked since the fetch: its remaining records must be skipped. */
  isStale(): boolean;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Producer

export interface ProducerOptions {
  /** Idempotent producer (acks=all, deduplicated retries). Default true. */
  idempotent?: boolean;
  /** Transactional id: enables transaction(). Older producers with the same id are fenced at connect() on platformatic, at the first transaction() on kafkajs. */
  transactionalId?: string;
  /** Requests in flight per broker connection; 1 keeps batches in order across retries. */
  maxInFlightRequests?: number;
  /** Retries of one request inside the client before it gives up. */
  retries?: number;
}

export interface SendBatchRequest {
  topicMessages: TopicRecords[];
  /** -1 (all in-sync replicas), 0 or 1. Default -1. */
  acks?: number;
  /** How long the broker may take to replicate with acks=all, ms. */
  timeout?: number;
}

export interface KafkaProducer {
  connect(): Promise<void>;
  send(request: { topic: string; messages: OutgoingRecord[]; acks?: number; timeout?: number }): Promise<ProduceAck[]>;
  sendBatch(request: SendBatchRequest): Promise<ProduceAck[]>;
  /** Begins a transaction (transactional producers only). */
  transaction(): Promise<KafkaTransaction>;
  disconnect(): Promise<void>;
}

export interface KafkaTransaction {
  send(request: { topic: string; messages: OutgoingRecord[]; acks?: number }): Promise<ProduceAck[]>;
  sendBatch(request: SendBatchRequest): Promise<ProduceAck[]>;
  /** Commits the consumer group's offsets atomically with the transaction's records. */
  sendOffsets(request: { consumerGroupId: string; topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string; metadata?: string }> }> }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  isActive(): boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Consumer

export interface ConsumerOptions {
  groupId: string;
  /** false: read_committed (records of aborted or open transactions are never returned). Default false. */
  readUncommitted?: boolean;
  sessionTimeout?: number;
  rebalanceTimeout?: number;
  heartbeatInterval?: number;
  maxBytesPerPartition?: number;
  maxBytes?: number;
  maxWaitTimeInMs?: number;
}

export interface ConsumerRunOptions {
  eachBatch(context: EachBatchContext): Promise<void>;
  /** Commit resolved offsets automatically. The package commits itself: default false. */
  autoCommit?: boolean;
  /** Resolve every record of a batch after eachBatch returns. Default false. */
  eachBatchAutoResolve?: boolean;
  partitionsConsumedConcurrently?: number;
}

/** Fired after a fetch for a partition was handled, including fetches that held only control records. */
export interface BatchEnd {
  topic: string;
  partition: number;
  lastOffset: string;
  highWatermark: string;
}

export interface KafkaConsumer {
  connect(): Promise<void>;
  subscribe(request: { topics: string[]; fromBeginning: boolean }): Promise<void>;
  run(options: ConsumerRunOptions): Promise<void>;
  /** Moves a partition's position; the next batch for it starts there and batches fetched before are stale. */
  seek(position: TopicPartitionOffset): void;
  pause(partitions: Array<{ topic: string; partitions?: number[] }>): void;
  resume(partitions: Array<{ topic: string; partitions?: number[] }>): void;
  /** Commits offsets for the group (the offset is the next record to read). */
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  /** The partitions assigned to this member after each join (topic → partitions). */
  onGroupJoin(listener: (assignment: Record<string, number[]>) => void): void;
  /** A rebalance started: the current assignment is about to be revoked. */
  onRebalancing(listener: () => void): void;
  /** The consumer failed; `restart` says whether the client restarts it by itself. */
  onCrash(listener: (error: Error, restart: boolean) => void): void;
  onBatchEnd(listener: (end: BatchEnd) => void): void;
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Admin

export interface PartitionMetadata {
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface TopicMetadata {
  name: string;
  partitions: PartitionMetadata[];
}

export interface NewTopic {
  topic: string;
  numPartitions: number;
  /** -1 or absent: the broker's default.replication.factor. */
  replicationFactor?: number;
  configEntries?: Array<{ name: string; value: string }>;
}

export interface ConfigEntry {
  configName: string;
  configValue: string | null;
  /** Set on this topic, as opposed to inherited from the broker or a built-in default. */
  isTopicConfig: boolean;
  isSensitive: boolean;
}

export interface KafkaAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Metadata of the named topics (all visible topics without `topics`); rejects for a missing topic. */
  fetchTopicMetadata(request?: { topics?: string[] }): Promise<{ topics: TopicMetadata[] }>;
  /** Each partition's low and high watermark (high = the offset the next record gets). */
  fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; low: string; high: string }>>;
  /** Creates topics; resolves false when they all existed. */
  createTopics(request: { topics: NewTopic[]; waitForLeaders?: boolean; timeout?: number }): Promise<boolean>;
  deleteTopics(request: { topics: string[]; timeout?: number }): Promise<void>;
  describeTopicConfigs(topics: string[]): Promise<Array<{ topic: string; entries: ConfigEntry[] }>>;
  /** Deletes records below `offset` in each partition. */
  deleteTopicRecords(request: { topic: string; partitions: Array<{ partition: number; offset: string }> }): Promise<void>;
  deleteGroups(groupIds: string[]): Promise<void>;
  /** A group's committed offsets (-1: none) and their metadata, for each partition of each topic. */
  fetchOffsets(request: { groupId: string; topics: string[] }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string; metadata: string | null }> }>>;
  describeCluster(): Promise<{ clusterId: string; brokers: Array<{ nodeId: number; host: string; port: number }> }>;
}

// ---------------------------------------------------------------------------------------------------------------
// Client

export interface AdminOptions {
  /** Retries of one request before it gives up (0: fail on the first error, e.g. to probe a broker). */
  retries?: number;
}

/** One cluster connection's factory for producers, consumers and admins. */
export interface KafkaClient {
  readonly name: KafkaClientName;
  producer(options?: ProducerOptions): KafkaProducer;
  consumer(options: ConsumerOptions): KafkaConsumer;
  admin(options?: AdminOptions): KafkaAdmin;
  /**
   * The package's typed error for one of this client's failures (KafkaUnavailableError, KafkaAuthenticationError,
   * KafkaAuthorizationError), or `err` itself when it is none of those.
   */
  classify(err: unknown, context?: KafkaErrorContext): unknown;
  /** Whether a produce failure may be retried with the same batch (the idempotent producer deduplicates it). */
  isRetriable(err: unknown): boolean;
}
