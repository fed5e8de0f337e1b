/**
 * The @platformatic/kafka adapter: the Kafka port (src/kafka/port.ts) on @platformatic/kafka 1.x.
 *
 * Where the two differ, the port wins:
 * - keyed records go where Java's partitioner puts them (murmur2 & 0x7fffffff; platformatic's own default
 *   partitioner uses `>>> 0`, which differs for half the keys);
 * - headers are sent as a Map of Buffers (a plain object of string keys is not encoded and the send never settles);
 * - a transactional producer fences older ones in connect() (platformatic only does it in its first beginTransaction),
 *   and once fenced it stays fenced (platformatic would start over with a new epoch and fence the newer producer);
 * - `sendOffsets` commits offsets with metadata and without a consumer instance (TxnOffsetCommit sent here:
 *   platformatic's `Transaction.addOffset` takes a consumed message and sends no metadata);
 * - the consumer is an eachBatch loop of its own over platformatic's group membership and Fetch (./consumer.ts).
 * Errors get the port's `type`/`retriable` (./errors.ts).
 */
import {
  Admin, ConfigResourceTypes, ConfigSources, FetchIsolationLevels, FindCoordinatorKeyTypes, Producer, UserError, addPartitionsToTxnV3, kGetApi, kGetBootstrapConnection, kGetConnection,
  type BaseOptions, type Connection, type MessageToProduce, type SASLOptions,
} from '@platformatic/kafka';
import { isIP } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { KafkaConnection } from '../client.js';
import { classifyKafkaError, type KafkaErrorContext } from '../errors.js';
import { murmur2, toPositive } from '../murmur2.js';
import type {
  AdminOptions, KafkaAdmin, KafkaClient, KafkaProducer, KafkaTransaction, OutgoingRecord, ProduceAck, ProducerOptions, SendBatchRequest, TopicMetadata,
} from '../port.js';
import { PlatformaticConsumer } from './consumer.js';
import { isRetriable, platformaticBrokers, portError } from './errors.js';
import { BatchProduceWriter, headerName } from './produce.js';

/** Rejects with the error in the port's shape (`type`, `retriable`). */
export async function ported<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw portError(err);
  }
}

/** platformatic's connection options for a KafkaConnection (brokers, client id, timeouts, TLS, SASL). */
export function platformaticOptions(conn: KafkaConnection, retries = 3): BaseOptions {
  const options: BaseOptions = {
    clientId: conn.clientId,
    bootstrapBrokers: conn.brokers,
    connectTimeout: conn.connectionTimeoutMs,
    requestTimeout: conn.requestTimeoutMs,
    timeout: conn.requestTimeoutMs,
    retries,
    retryDelay: 250,
    autocreateTopics: false,
  };
  if (conn.ssl) {
    options.tls = conn.ssl === true ? {} : (conn.ssl as TlsOptions);
    // SNI with the broker's host name, as kafkajs and the Java client send it; never an IP address (RFC 6066 forbids
    // it, and Node warns on stderr for each connection).
    if (!conn.brokers.some((b) => isIP(b.slice(0, b.lastIndexOf(':')).replace(/^\[|\]$/g, '')) !== 0)) options.tlsServerName = true;
  }
  if (conn.sasl) {
    const s = conn.sasl;
    options.sasl =
      s.mechanism === 'oauthbearer'
        ? { mechanism: 'OAUTHBEARER', token: async () => (await s.oauthBearerProvider()).value }
        : { mechanism: s.mechanism.toUpperCase() as SASLOptions['mechanism'], username: s.username, password: s.password };
  }
  return options;
}

/**
 * Java's default partitioner for keyed records, round robin per topic for the others; platformatic reduces the
 * result modulo the partition count itself.
 */
function javaPartitioner(): (topic: string, key: Buffer | string | null | undefined) => number {
  const next = new Map<string, number>();
  return (topic, key) => {
    if (key !== undefined && key !== null) return toPositive(murmur2(typeof key === 'string' ? Buffer.from(key) : key));
    const n = next.get(topic) ?? 0;
    next.set(topic, (n + 1) % 0x7fffffff);
    return n;
  };
}

const toBuffer = (v: Buffer | string): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v));

function toMessage(topic: string, m: OutgoingRecord): MessageToProduce {
  const out: MessageToProduce = { topic };
  if (m.key !== undefined && m.key !== null) out.key = toBuffer(m.key);
  if (m.value !== null && m.value !== undefined) out.value = toBuffer(m.value);
  if (m.partition !== undefined) out.partition = m.partition;
  if (m.timestamp !== undefined) out.timestamp = BigInt(m.timestamp);
  if (m.headers) {
    const headers = new Map<Buffer, Buffer>();
    for (const k in m.headers) {
      const v = m.headers[k];
      if (v !== undefined) headers.set(headerName(k), toBuffer(v));
    }
    out.headers = headers;
  }
  return out;
}

function toAcks(result: { offsets?: Array<{ topic: string; partition: number; offset: bigint }> }): ProduceAck[] {
  return (result.offsets ?? []).map((o) => ({ topicName: o.topic, partition: o.partition, baseOffset: String(o.offset) }));
}

/** platformatic's Transaction class (not exported by name from the package root). */
type Transaction = Awaited<ReturnType<Producer['beginTransaction']>>;

type ApiCall = ((...args: unknown[]) => void) & { async: (...args: unknown[]) => Promise<unknown> };

/** One protocol API of a client, in the version it negotiated with the brokers. */
function apiOf(client: Producer, name: string): Promise<ApiCall> {
  return new Promise((resolve, reject) => (client as unknown as Record<symbol, (n: string, cb: (e: Error | null, a?: ApiCall) => void) => void>)[kGetApi]!(name, (e, a) => (e ? reject(e) : resolve(a!))));
}

function connectionOf(client: Producer, broker?: { host: string; port: number }): Promise<Connection> {
  const c = client as unknown as Record<symbol, (...args: unknown[]) => void>;
  return new Promise((resolve, reject) => {
    const cb = (e: Error | null, conn?: Connection) => (e ? reject(e) : resolve(conn!));
    if (broker) c[kGetConnection]!(broker, cb);
    else c[kGetBootstrapConnection]!(cb);
  });
}

const COORDINATOR_RETRY = new Set(['COORDINATOR_LOAD_IN_PROGRESS', 'COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR', 'CONCURRENT_TRANSACTIONS']);

async function withCoordinatorRetry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const type = (portError(err) as { type?: string }).type ?? '';
      if (attempt >= 20 || !COORDINATOR_RETRY.has(type)) throw err;
      await new Promise((r) => setTimeout(r, Math.min(100 * (attempt + 1), 500)));
    }
  }
}

class PlatformaticTransaction implements KafkaTransaction {
  private active = true;
  constructor(private readonly owner: PlatformaticProducer, private readonly tx: Transaction) {}

  send(r: { topic: string; messages: OutgoingRecord[] }): Promise<ProduceAck[]> {
    return this.sendBatch({ topicMessages: [{ topic: r.topic, messages: r.messages }] });
  }

  async sendBatch(r: SendBatchRequest): Promise<ProduceAck[]> {
    const messages = r.topicMessages.flatMap((t) => t.messages.map((m) => toMessage(t.topic, m)));
    return toAcks(await this.owner.guard(this.tx.send({ messages })));
  }

  async sendOffsets(r: Parameters<KafkaTransaction['sendOffsets']>[0]): Promise<void> {
    const p = this.owner.producer;
    // AddOffsetsToTxn: platformatic's addConsumer only reads the consumer's groupId.
    await this.owner.guard(this.tx.addConsumer({ groupId: r.consumerGroupId } as never));
    await this.owner.guard(withCoordinatorRetry(async () => {
      const find = await apiOf(p, 'FindCoordinator');
      const res = (await find.async(await connectionOf(p), FindCoordinatorKeyTypes.GROUP, [r.consumerGroupId])) as { coordinators: Array<{ key: string; host: string; port: number }> };
      const coordinator = res.coordinators.find((c) => c.key === r.consumerGroupId)!;
      const commit = await apiOf(p, 'TxnOffsetCommit');
      // generation -1 and no member id: no generation check, as the Java client's sendOffsetsToTransaction(offsets, groupId).
      await commit.async(await connectionOf(p, { host: coordinator.host, port: coordinator.port }), this.owner.transactionalId, r.consumerGroupId, p.producerId, p.producerEpoch, -1, '', null,
        r.topics.map((t) => ({
          name: t.topic,
          partitions: t.partitions.map((x) => ({ partitionIndex: x.partition, committedOffset: BigInt(x.offset), committedLeaderEpoch: -1, committedMetadata: x.metadata ?? null })),
        })));
    }));
  }

  async commit(): Promise<void> {
    await this.owner.guard(this.tx.commit());
    this.active = false;
  }

  async abort(): Promise<void> {
    await this.owner.guard(this.tx.abort());
    this.active = false;
  }

  isActive(): boolean {
    return this.active && !this.tx.completed;
  }
}

/**
 * AddPartitionsToTxn at version 3 at most, as the Java producer sends it. platformatic 1.35 takes the highest version
 * the broker offers (5 on Kafka 4.x); versions 4 and up are the brokers' own batched form (KIP-890) and need the
 * CLUSTER_ACTION permission, which a least-privilege client (WRITE and DESCRIBE on its transactional id) does not
 * have. Version 3's request reads the same `transactions` argument (its first entry).
 */
function capAddPartitionsToTxn(producer: Producer): void {
  const self = producer as unknown as Record<symbol, (name: string, cb: (e: Error | null, api?: { version: number }) => void) => void>;
  const getApi = self[kGetApi]!;
  self[kGetApi] = function (this: unknown, name, cb) {
    if (name !== 'AddPartitionsToTxn') return getApi.call(this, name, cb);
    return getApi.call(this, name, (e, api) => (e ? cb(e) : cb(null, api!.version > 3 ? (addPartitionsToTxnV3.api as unknown as { version: number }) : api)));
  };
}

class PlatformaticProducer implements KafkaProducer {
  readonly producer: Producer;
  readonly transactionalId: string | undefined;
  private fenced: unknown;
  /** Writes the produce requests of an idempotent, non-transactional producer (./produce.ts). */
  private readonly writer: BatchProduceWriter | undefined;

  constructor(conn: KafkaConnection, options: ProducerOptions) {
    this.transactionalId = options.transactionalId;
    const idempotent = (options.idempotent ?? true) || options.transactionalId !== undefined;
    const partitioner = javaPartitioner();
    this.producer = new Producer({
      ...platformaticOptions(conn, options.retries ?? 5),
      idempotent,
      acks: -1,
      partitioner: (message: MessageToProduce, key: Buffer | undefined) => partitioner(message.topic, key),
      ...(options.transactionalId !== undefined && { transactionalId: options.transactionalId }),
      ...(!idempotent && options.maxInFlightRequests !== undefined && { maxInflights: options.maxInFlightRequests }),
    });
    if (options.transactionalId !== undefined) capAddPartitionsToTxn(this.producer);
    if (idempotent && options.transactionalId === undefined && process.env.MULTIDISPATCH_PLATFORMATIC_PRODUCE !== 'client') {
      this.writer = new BatchProduceWriter(this.producer, partitioner, { timeoutMs: conn.requestTimeoutMs });
    }
  }

  /** Rejects in the port's shape; remembers a fencing error, after which this producer refuses every transaction. */
  async guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      const e = portError(err) as { type?: string };
      if (e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'PRODUCER_FENCED' || e.type === 'TRANSACTIONAL_ID_FENCED') this.fenced = e;
      throw e;
    }
  }

  async connect(): Promise<void> {
    try {
      await ported(this.producer.connectToBrokers(null));
      if (this.transactionalId !== undefined) {
        // InitProducerId for the transactional id (bumps its epoch: any older producer with this id is fenced now).
        // platformatic would send producer id 0 and epoch 0, which the broker reads as "I am producer 0" and answers
        // PRODUCER_FENCED whenever another producer id holds the transactional id; -1/-1 asks for a new epoch.
        const tx = await this.guard(this.producer.beginTransaction({ producerId: -1n, producerEpoch: -1 }));
        await tx.cancel();
      }
    } catch (err) {
      // A failed connect leaves nothing open (a caller that never got a producer does not disconnect it).
      await (this.producer.close(true) as unknown as Promise<void>).catch(() => (this.producer.connections.close() as unknown as Promise<void>).catch(() => undefined));
      throw err;
    }
  }

  send(r: { topic: string; messages: OutgoingRecord[]; acks?: number; timeout?: number }): Promise<ProduceAck[]> {
    return this.sendBatch({ topicMessages: [{ topic: r.topic, messages: r.messages }], acks: r.acks, timeout: r.timeout });
  }

  async sendBatch(r: SendBatchRequest): Promise<ProduceAck[]> {
    const acks = r.acks ?? -1;
    if (this.writer && (await this.guard(this.writer.supported()))) {
      // As platformatic's own send (and the Java client) refuse it: idempotence needs every in-sync replica's ack.
      if (acks !== -1) throw portError(new UserError('Idempotent producer requires acks to be ALL (-1).'));
      return this.guard(this.writer.send(r.topicMessages, acks, r.timeout ?? 30_000));
    }
    const messages = r.topicMessages.flatMap((t) => t.messages.map((m) => toMessage(t.topic, m)));
    return toAcks(await this.guard(this.producer.send({ messages, acks })));
  }

  async transaction(): Promise<KafkaTransaction> {
    if (this.transactionalId === undefined) throw new Error('transaction() needs a producer with a transactionalId');
    if (this.fenced) throw this.fenced;
    return new PlatformaticTransaction(this, await this.guard(this.producer.beginTransaction()));
  }

  async disconnect(): Promise<void> {
    await ported(this.producer.close(true) as unknown as Promise<void>);
  }
}

function wrapAdmin(conn: KafkaConnection, options: AdminOptions): KafkaAdmin {
  const admin = new Admin(platformaticOptions(conn, options.retries ?? 3));
  const partitionsOf = async (topic: string): Promise<number[]> => {
    const m = await admin.metadata({ topics: [topic], forceUpdate: true });
    return Array.from({ length: m.topics.get(topic)!.partitionsCount }, (_, i) => i);
  };
  /** Metadata of named topics (a missing one rejects, as kafkajs does), or of every listed topic still there. */
  const metadata = async (topics: string[], listed = false): Promise<TopicMetadata[]> => {
    if (topics.length === 0) return [];
    const m = await admin.metadata({ topics, forceUpdate: true });
    const out: TopicMetadata[] = [];
    for (const name of topics) {
      const t = m.topics.get(name);
      if (!t) {
        // Listed a moment ago and deleted since: not part of "every topic".
        if (listed) continue;
        throw portError(Object.assign(new Error(`This server does not host this topic-partition: ${name}`), { type: 'UNKNOWN_TOPIC_OR_PARTITION', topic: name }));
      }
      out.push({ name, partitions: t.partitions.map((p, partitionId) => ({ partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr })) });
    }
    return out;
  };
  const listOffsets = async (topic: string, timestamp: bigint): Promise<Map<number, bigint>> => {
    const partitions = await partitionsOf(topic);
    const res = await admin.listOffsets({ topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }], isolationLevel: FetchIsolationLevels.READ_COMMITTED });
    return new Map(res.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, p.offset] as const)));
  };
  return {
    connect: () => ported(admin.metadata({ topics: [] }).then(() => undefined)).catch(async (err: unknown) => {
      // A failed connect leaves nothing open.
      await (admin.close() as unknown as Promise<void>).catch(() => undefined);
      throw err;
    }),
    disconnect: () => ported(admin.close()),
    listTopics: () => ported(admin.listTopics({ includeInternals: true })),
    fetchTopicMetadata: (r) => ported((async () => ({
      topics: r?.topics ? await metadata(r.topics) : await metadata(await admin.listTopics({ includeInternals: true }), true),
    }))()),
    fetchTopicOffsets: (topic) => ported((async () => {
      const [low, high] = await Promise.all([listOffsets(topic, -2n), listOffsets(topic, -1n)]);
      return [...high.keys()].sort((a, b) => a - b).map((partition) => ({ partition, low: String(low.get(partition) ?? 0n), high: String(high.get(partition)) }));
    })()),
    createTopics: (r) => ported((async () => {
      let created = false;
      for (const t of r.topics) {
        try {
          await admin.createTopics({ topics: [t.topic], partitions: t.numPartitions, replicas: t.replicationFactor ?? -1, configs: (t.configEntries ?? []).map((c) => ({ name: c.name, value: c.value })) });
          created = true;
        } catch (err) {
          if ((portError(err) as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
        }
      }
      if (r.waitForLeaders ?? true) {
        const deadline = Date.now() + (r.timeout ?? 30_000);
        for (const t of r.topics) {
          for (;;) {
            try {
              const [m] = await metadata([t.topic]);
              if (m!.partitions.length > 0 && m!.partitions.every((p) => p.leader >= 0)) {
                await listOffsets(t.topic, -1n);
                break;
              }
            } catch (err) {
              if (Date.now() > deadline) throw err;
            }
            if (Date.now() > deadline) throw new Error(`topic ${t.topic}: no leader for every partition within ${r.timeout ?? 30_000} ms`);
            await new Promise((res) => setTimeout(res, 100));
          }
        }
      }
      return created;
    })()),
    deleteTopics: (r) => ported(admin.deleteTopics({ topics: r.topics })),
    describeTopicConfigs: (topics) => ported((async () => {
      const res = await admin.describeConfigs({ includeSynonyms: false, resources: topics.map((resourceName) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName })) });
      return res.map((r) => ({
        topic: r.resourceName,
        entries: r.configs.map((e) => ({ configName: e.name, configValue: e.value ?? null, isSensitive: e.isSensitive, isTopicConfig: e.configSource === ConfigSources.TOPIC_CONFIG })),
      }));
    })()),
    deleteTopicRecords: (r) => ported(admin.deleteRecords({ topics: [{ name: r.topic, partitions: r.partitions.map((p) => ({ partition: p.partition, offset: BigInt(p.offset) })) }] }).then(() => undefined)),
    deleteGroups: (ids) => ported(admin.deleteGroups({ groups: ids })),
    fetchOffsets: (r) => ported((async () => {
      const topics = await Promise.all(r.topics.map(async (name) => ({ name, partitionIndexes: await partitionsOf(name) })));
      const res = await admin.listConsumerGroupOffsets({ groups: [{ groupId: r.groupId, topics }] });
      const found = new Map((res[0]?.topics ?? []).map((t) => [t.name, new Map(t.partitions.map((p) => [p.partitionIndex, p]))]));
      return topics.map((t) => ({
        topic: t.name,
        partitions: t.partitionIndexes.map((partition) => {
          const p = found.get(t.name)?.get(partition);
          return { partition, offset: String(p?.committedOffset ?? -1n), metadata: p?.metadata ?? null };
        }),
      }));
    })()),
    describeCluster: () => ported((async () => {
      const m = await admin.metadata({ topics: [], forceUpdate: true });
      return { clusterId: m.id, brokers: [...m.brokers].map(([nodeId, b]) => ({ nodeId, host: b.host, port: b.port })) };
    })()),
  };
}

export function createPlatformaticClient(conn: KafkaConnection): KafkaClient {
  const mechanism = conn.sasl ? conn.sasl.mechanism.toUpperCase() : undefined;
  return {
    name: 'platformatic',
    producer: (options = {}) => new PlatformaticProducer(conn, options),
    consumer: (options) => new PlatformaticConsumer(conn, options),
    admin: (options = {}) => wrapAdmin(conn, options),
    classify: (err: unknown, context: KafkaErrorContext = {}) => {
      const brokers = context.brokers ?? (platformaticBrokers(err).length > 0 ? undefined : conn.brokers);
      return classifyKafkaError(err, { ...(mechanism && { mechanism }), ...(brokers && { brokers }), ...context });
    },
    isRetriable,
  };
}
