/**
 * Produce requests written by this adapter for the idempotent, non-transactional producer (the publisher's path).
 *
 * @platformatic/kafka 1.35 builds every record from many small Buffers (one per varint and field, a fresh Buffer
 * per header name) and concatenates them twice (for the CRC and for the socket); with the five envelope headers
 * multidispatch writes on every record, that was most of the client's cost per event. Here each partition's
 * records are written into one RecordBatch v2 buffer, sized first and written once: header names are encoded once
 * per process, string header values are written in place, the CRC-32C is computed over that buffer directly.
 * platformatic still owns the connections (TLS, SASL), metadata, API version negotiation, retries and response
 * parsing: the request goes out through its Produce API object, built with platformatic's `createAPI` around the
 * request writer below and platformatic's own response parser for the negotiated version.
 *
 * The producer id and the per-partition sequence numbers are kept here. A request that fails leaves the sequences
 * where they were, so the same batch sent again is deduplicated by the broker (the kafkajs behaviour
 * src/kafka/producer.ts relies on); UNKNOWN_PRODUCER_ID and OUT_OF_ORDER_SEQUENCE_NUMBER start a new producer id
 * before the next request.
 */
import {
  Writer, createAPI, crc32c, kGetApi, kGetBootstrapConnection, kGetConnection, kPerformWithRetry, produceV9, produceV10, produceV11,
  type Connection, type Producer,
} from '@platformatic/kafka';
import type { OutgoingRecord, ProduceAck } from '../port.js';

// ---------------------------------------------------------------------------------------------------------------
// RecordBatch v2 encoding (https://kafka.apache.org/documentation/#recordbatch)

/** Byte offsets inside a RecordBatch v2 header. */
const BATCH_LENGTH_AT = 8;
const LEADER_EPOCH_AT = 12;
const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
const RECORDS_AT = 61;
const IS_TRANSACTIONAL = 1 << 4;

const headerNames = new Map<string, Buffer>();
/** A header name's UTF-8 bytes, encoded once per process (header names are few and fixed). */
export function headerName(name: string): Buffer {
  let b = headerNames.get(name);
  if (b === undefined) {
    b = Buffer.from(name);
    if (headerNames.size < 4096) headerNames.set(name, b);
  }
  return b;
}

/** Bytes of an unsigned varint (0 ≤ v < 2^32). */
function uvarintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}
/** ZigZag of a signed 32-bit integer, as an unsigned number. */
const zigzag32 = (n: number): number => ((n << 1) ^ (n >> 31)) >>> 0;
/** Bytes of a signed varint (ZigZag) of a 32-bit integer. */
const varintSize = (n: number): number => uvarintSize(zigzag32(n));
/** ZigZag of a signed integer of up to 53 bits, as a non-negative number. */
const zigzag53 = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);
function uvarlongSize(v: number): number {
  let size = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    size++;
  }
  return size;
}

function writeUvarint(buf: Buffer, off: number, v: number): number {
  while (v >= 0x80) {
    buf[off++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[off++] = v;
  return off;
}
function writeUvarlong(buf: Buffer, off: number, v: number): number {
  if (v < 0x100000000) return writeUvarint(buf, off, v);
  while (v >= 0x80) {
    buf[off++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[off++] = v;
  return off;
}

type Bytes = Buffer | string | null | undefined;
/** Length of a nullable byte field's content (-1 for null). */
const lengthOf = (v: Bytes): number => (v === null || v === undefined ? -1 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);
/** Below this many bytes a loop beats Buffer#copy and Buffer#write (each a call into C++). */
const SMALL = 64;
function copySmall(buf: Buffer, off: number, src: Buffer, len: number): void {
  if (len > SMALL) src.copy(buf, off);
  else for (let i = 0; i < len; i++) buf[off + i] = src[i]!;
}
function writeBytes(buf: Buffer, off: number, v: Bytes, len: number): number {
  off = writeUvarint(buf, off, zigzag32(len));
  if (len > 0) {
    if (typeof v === 'string') {
      // As many UTF-8 bytes as UTF-16 units: ASCII only (event ids, ISO times), one byte per unit.
      if (len === v.length && len <= SMALL) for (let i = 0; i < len; i++) buf[off + i] = v.charCodeAt(i);
      else buf.write(v, off, len, 'utf8');
    } else copySmall(buf, off, v as Buffer, len);
  }
  return off + (len > 0 ? len : 0);
}

export interface BatchOptions {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  transactional?: boolean;
  /** Timestamp of records that carry none (epoch ms). */
  now: number;
}

/**
 * One RecordBatch v2 (magic 2, uncompressed, CreateTime) holding `records` in order, as a producer sends it:
 * base offset 0, partition leader epoch -1, the CRC-32C over attributes..end.
 */
export function encodeRecordBatch(records: readonly OutgoingRecord[], o: BatchOptions): Buffer {
  const n = records.length;
  if (n === 0) throw new Error('encodeRecordBatch: no records');
  // Pass 1: sizes. Per record, `lens` holds key length, value length, header count and body size, then each header
  // value's length, so that pass 2 does not measure strings again.
  const lens: number[] = [];
  const timestamps = new Array<number>(n);
  let first = 0;
  let max = -Infinity;
  let total = RECORDS_AT;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    const ts = r.timestamp === undefined ? o.now : Number(r.timestamp);
    timestamps[i] = ts;
    if (i === 0) first = ts;
    if (ts > max) max = ts;
    const keyLen = lengthOf(r.key);
    const valueLen = lengthOf(r.value);
    let body = 1 + uvarlongSize(zigzag53(ts - first)) + varintSize(i) + varintSize(keyLen) + (keyLen > 0 ? keyLen : 0) + varintSize(valueLen) + (valueLen > 0 ? valueLen : 0);
    const at = lens.length;
    lens.push(keyLen, valueLen, 0, 0);
    const headers = r.headers;
    let count = 0;
    if (headers !== undefined) {
      for (const name in headers) {
        const value = headers[name];
        if (value === undefined) continue;
        const nameLen = headerName(name).length;
        const len = lengthOf(value);
        lens.push(len);
        body += uvarintSize(zigzag32(nameLen)) + nameLen + varintSize(len) + (len > 0 ? len : 0);
        count++;
      }
    }
    body += varintSize(count);
    lens[at + 2] = count;
    lens[at + 3] = body;
    total += uvarintSize(zigzag32(body)) + body;
  }

  const buf = Buffer.allocUnsafe(total);
  buf.writeBigInt64BE(0n, 0); // base offset
  buf.writeInt32BE(total - 12, BATCH_LENGTH_AT);
  buf.writeInt32BE(-1, LEADER_EPOCH_AT);
  buf.writeInt8(2, MAGIC_AT);
  buf.writeInt16BE(o.transactional ? IS_TRANSACTIONAL : 0, ATTRIBUTES_AT);
  buf.writeInt32BE(n - 1, 23); // last offset delta
  buf.writeBigInt64BE(BigInt(first), 27);
  buf.writeBigInt64BE(BigInt(max), 35);
  buf.writeBigInt64BE(o.producerId, 43);
  buf.writeInt16BE(o.producerEpoch, 51);
  buf.writeInt32BE(o.baseSequence, 53);
  buf.writeInt32BE(n, 57);

  // Pass 2: records, reading `lens` in the order pass 1 wrote it.
  let off = RECORDS_AT;
  let l = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    const headers = r.headers;
    const keyLen = lens[l++]!;
    const valueLen = lens[l++]!;
    const count = lens[l++]!;
    const body = lens[l++]!;
    off = writeUvarint(buf, off, zigzag32(body));
    buf[off++] = 0; // record attributes
    off = writeUvarlong(buf, off, zigzag53(timestamps[i]! - first));
    off = writeUvarint(buf, off, zigzag32(i));
    off = writeBytes(buf, off, r.key, keyLen);
    off = writeBytes(buf, off, r.value, valueLen);
    off = writeUvarint(buf, off, zigzag32(count));
    if (headers !== undefined) {
      for (const name in headers) {
        const value = headers[name];
        if (value === undefined) continue;
        const nameBytes = headerName(name);
        off = writeUvarint(buf, off, zigzag32(nameBytes.length));
        copySmall(buf, off, nameBytes, nameBytes.length);
        off += nameBytes.length;
        off = writeBytes(buf, off, value, lens[l++]!);
      }
    }
  }
  if (off !== total) throw new Error(`encodeRecordBatch: wrote ${off} bytes of ${total}`);
  buf.writeUInt32BE(crc32c(Writer.create().append(buf.subarray(ATTRIBUTES_AT)).dynamicBuffer) >>> 0, CRC_AT);
  return buf;
}

// ---------------------------------------------------------------------------------------------------------------
// The Produce request (versions 9 to 11 share one flexible layout)

interface PartitionData {
  partition: number;
  batch: Buffer;
}
interface TopicData {
  topic: string;
  partitions: PartitionData[];
}

function uvarintBuffer(v: number): Buffer {
  const b = Buffer.allocUnsafe(uvarintSize(v));
  writeUvarint(b, 0, v);
  return b;
}

/** Produce request v9–v11: transactional_id, acks, timeout_ms, [topic_data], each records field a prebuilt batch. */
function createProduceRequest(transactionalId: string | null, acks: number, timeout: number, topics: TopicData[]): Writer {
  const w = Writer.create();
  const tid = transactionalId === null ? null : Buffer.from(transactionalId);
  const head = Buffer.allocUnsafe((tid ? uvarintSize(tid.length + 1) + tid.length : 1) + 6 + uvarintSize(topics.length + 1));
  let off = tid ? writeUvarint(head, 0, tid.length + 1) : writeUvarint(head, 0, 0);
  if (tid) off += tid.copy(head, off);
  off = head.writeInt16BE(acks, off);
  off = head.writeInt32BE(timeout, off);
  writeUvarint(head, off, topics.length + 1);
  w.append(head);
  for (const t of topics) {
    const name = Buffer.from(t.topic);
    w.append(uvarintBuffer(name.length + 1)).append(name).append(uvarintBuffer(t.partitions.length + 1));
    for (const p of t.partitions) {
      const ph = Buffer.allocUnsafe(4 + uvarintSize(p.batch.length + 1));
      writeUvarint(ph, ph.writeInt32BE(p.partition, 0), p.batch.length + 1);
      w.append(ph).append(p.batch).append(TAGS_NONE);
    }
    w.append(TAGS_NONE);
  }
  w.append(TAGS_NONE);
  return w;
}
const TAGS_NONE = Buffer.from([0]);

const PARSERS: Record<number, (...args: never[]) => unknown> = {
  9: produceV9.parseResponse as never,
  10: produceV10.parseResponse as never,
  11: produceV11.parseResponse as never,
};

type ApiCall = ((...args: unknown[]) => void) & { version: number };
type ProduceResponse = { responses: Array<{ name: string; partitionResponses: Array<{ index: number; errorCode: number; baseOffset: bigint }> }> };
type Metadata = { brokers: Map<number, { host: string; port: number }>; topics: Map<string, { partitionsCount: number; partitions: Array<{ leader: number }> }> };
type Internal = Record<symbol, (...args: unknown[]) => void>;

const RESET_PRODUCER = new Set(['UNKNOWN_PRODUCER_ID', 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);
const SEQUENCE_WRAP = 2 ** 31;

/** Every protocol error name in a platformatic error. */
function protocolTypes(err: unknown, out: string[] = [], depth = 0): string[] {
  if (typeof err !== 'object' || err === null || depth > 6) return out;
  const e = err as { code?: unknown; apiId?: unknown; errors?: unknown[]; cause?: unknown };
  if (e.code === 'PLT_KFK_PROTOCOL' && typeof e.apiId === 'string') out.push(e.apiId);
  if (Array.isArray(e.errors)) for (const x of e.errors) protocolTypes(x, out, depth + 1);
  protocolTypes(e.cause, out, depth + 1);
  return out;
}

/**
 * Sends records with its own idempotent producer id over a platformatic Producer's connections. `supported()` says
 * whether the brokers speak a Produce version this writer implements; when not, the adapter uses platformatic's send.
 */
export class BatchProduceWriter {
  private pid: { producerId: bigint; producerEpoch: number } | undefined;
  private readonly sequences = new Map<string, number[]>();
  private api: ApiCall | undefined;
  private version: number | undefined;

  constructor(
    private readonly producer: Producer,
    private readonly partitioner: (topic: string, key: Buffer | string | null | undefined) => number,
    private readonly options: { timeoutMs: number },
  ) {}

  private internal(): Internal {
    return this.producer as unknown as Internal;
  }

  /** The negotiated Produce version when it is one this writer implements (9–11), else undefined. */
  async supported(): Promise<boolean> {
    if (this.version === undefined) {
      const api = await new Promise<ApiCall>((resolve, reject) => this.internal()[kGetApi]!('Produce', (e: Error | null, a?: ApiCall) => (e ? reject(e) : resolve(a!))));
      this.version = api.version;
      const parse = PARSERS[api.version];
      if (parse) this.api = createAPI(0, api.version, createProduceRequest as never, parse as never) as unknown as ApiCall;
    }
    return this.api !== undefined;
  }

  private async producerId(): Promise<{ producerId: bigint; producerEpoch: number }> {
    if (!this.pid) {
      const api = await new Promise<ApiCall & { async: (...a: unknown[]) => Promise<unknown> }>((resolve, reject) =>
        this.internal()[kGetApi]!('InitProducerId', (e: Error | null, a?: never) => (e ? reject(e) : resolve(a!))));
      const res = (await this.withRetry('initProducerId', async () => {
        const conn = await new Promise<Connection>((resolve, reject) => this.internal()[kGetBootstrapConnection]!((e: Error | null, c?: Connection) => (e ? reject(e) : resolve(c!))));
        return api.async(conn, null, this.options.timeoutMs, -1n, -1);
      })) as { producerId: bigint; producerEpoch: number };
      this.pid = { producerId: res.producerId, producerEpoch: res.producerEpoch };
      this.sequences.clear();
    }
    return this.pid;
  }

  /** Runs `fn` with platformatic's retry policy (its `retries` and `retryDelay`, retriable errors only). */
  private withRetry<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.internal()[kPerformWithRetry]!(
        operation,
        (cb: (e: Error | null, r?: T) => void) => {
          fn().then((r) => cb(null, r), (e: Error) => {
            // Stale metadata: the next attempt asks the brokers again.
            if ((e as { findBy?: (k: string, v: unknown) => unknown }).findBy?.('hasStaleMetadata', true)) this.producer.clearMetadata();
            cb(e);
          });
        },
        (e: Error | null, r?: T) => (e ? reject(e) : resolve(r!)),
        0,
        [],
      );
    });
  }

  /** Sends the records of every topic with one Produce request per partition leader; rejects with platformatic's error. */
  async send(topicMessages: ReadonlyArray<{ topic: string; messages: readonly OutgoingRecord[] }>, acks: number, timeoutMs: number): Promise<ProduceAck[]> {
    const { producerId, producerEpoch } = await this.producerId();
    const topics = topicMessages.map((t) => t.topic);
    let metadata = (await this.producer.metadata({ topics })) as unknown as Metadata;
    // Records per partition, in order; partitions fixed before the first attempt so that retries resend the same batches.
    const byPartition = new Map<string, Map<number, OutgoingRecord[]>>();
    for (const { topic, messages } of topicMessages) {
      const count = metadata.topics.get(topic)!.partitionsCount;
      let parts = byPartition.get(topic);
      if (!parts) byPartition.set(topic, (parts = new Map()));
      for (const m of messages) {
        const p = (m.partition ?? this.partitioner(topic, m.key)) % count;
        let list = parts.get(p);
        if (!list) parts.set(p, (list = []));
        list.push(m);
      }
    }
    const now = Date.now();
    const encoded: Array<{ topic: string; partition: number; batch: Buffer; count: number }> = [];
    for (const [topic, parts] of byPartition) {
      let seqs = this.sequences.get(topic);
      if (!seqs) this.sequences.set(topic, (seqs = []));
      for (const [partition, records] of parts) {
        encoded.push({ topic, partition, count: records.length, batch: encodeRecordBatch(records, { producerId, producerEpoch, baseSequence: seqs[partition] ?? 0, now }) });
      }
    }

    const pending = new Set(encoded);
    const acksOut: ProduceAck[] = [];
    try {
      await this.withRetry('produce', async () => {
        metadata = (await this.producer.metadata({ topics })) as unknown as Metadata;
        const byLeader = new Map<number, typeof encoded>();
        for (const e of pending) {
          const leader = metadata.topics.get(e.topic)!.partitions[e.partition]!.leader;
          let list = byLeader.get(leader);
          if (!list) byLeader.set(leader, (list = []));
          list.push(e);
        }
        const results = await Promise.allSettled([...byLeader].map(async ([leader, list]) => {
          const conn = await new Promise<Connection>((resolve, reject) =>
            this.internal()[kGetConnection]!(metadata.brokers.get(leader), (e: Error | null, c?: Connection) => (e ? reject(e) : resolve(c!))));
          const topicsData: TopicData[] = [];
          for (const e of list) {
            let t = topicsData.find((x) => x.topic === e.topic);
            if (!t) topicsData.push((t = { topic: e.topic, partitions: [] }));
            t.partitions.push({ partition: e.partition, batch: e.batch });
          }
          const res = await new Promise<ProduceResponse>((resolve, reject) =>
            (this.api as unknown as (...a: unknown[]) => void)(conn, null, acks, timeoutMs, topicsData, (e: Error | null, r?: ProduceResponse) => (e ? reject(e) : resolve(r!))));
          for (const t of res.responses) for (const p of t.partitionResponses) acksOut.push({ topicName: t.name, partition: p.index, baseOffset: String(p.baseOffset) });
          for (const e of list) pending.delete(e);
        }));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      });
    } catch (err) {
      // Sequences stay where they were: the same batch sent again is a duplicate the broker recognises.
      if (protocolTypes(err).some((t) => RESET_PRODUCER.has(t))) this.pid = undefined;
      throw err;
    }
    for (const e of encoded) {
      const seqs = this.sequences.get(e.topic)!;
      seqs[e.partition] = ((seqs[e.partition] ?? 0) + e.count) % SEQUENCE_WRAP;
    }
    return acksOut;
  }
}
