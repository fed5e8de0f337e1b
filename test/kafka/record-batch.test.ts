/**
 * The RecordBatch v2 writer of the @platformatic/kafka adapter (src/kafka/platformatic/produce.ts) against
 * @platformatic/kafka's own encoder and decoder: the same records give the same bytes, and the bytes decode to the
 * records. The round trip through a real broker (offsets, headers, partitioner, idempotence) is in contract.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Reader, createRecordsBatch, jsCRC32C, readRecordsBatch } from '@platformatic/kafka';
import { encodeRecordBatch } from '../../src/kafka/platformatic/produce.js';
import type { OutgoingRecord } from '../../src/kafka/port.js';

const pid = 123456789012n;
const base = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/** Records covering the encoding's edges: null and string keys, tombstones, unicode, big values, timestamp deltas. */
function sampleRecords(): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  for (let i = 0; i < 300; i++) {
    out.push({
      key: i % 7 === 0 ? null : i % 2 ? `restaurant-${i}` : Buffer.from(`user-${i}-ü`),
      value: i % 50 === 3 ? null : i % 40 === 5 ? Buffer.alloc(70_000, i % 256) : Buffer.from(`{"n":${i},"s":"€ 😀"}`),
      headers: i % 9 === 0 ? undefined : {
        'md-event-type': Buffer.from('orders.v1.PaymentFailed'),
        'md-event-id': `0190c2d4-${String(i).padStart(4, '0')}-7000-8000-000000000000`,
        'md-occurred-at': '2026-01-01T00:00:00.123Z',
        'ünïcode-näme': 'välue ✓',
        empty: '',
      },
      // Forward, backward (negative delta) and far (more than 2^31 ms) from the first record's timestamp.
      timestamp: String(i === 1 ? base - 5_000 : i === 2 ? base + 3_000_000_000 : base + i),
    });
  }
  return out;
}

/** platformatic's message shape for the same records (headers as a Map of Buffers, timestamps as bigint). */
function asPlatformatic(records: OutgoingRecord[]) {
  return records.map((r) => ({
    topic: 't',
    partition: 0,
    key: r.key === null || r.key === undefined ? undefined : Buffer.from(r.key),
    value: r.value === null ? undefined : Buffer.from(r.value),
    headers: new Map(Object.entries(r.headers ?? {}).map(([k, v]) => [Buffer.from(k), Buffer.from(v!)])),
    timestamp: BigInt(r.timestamp!),
  }));
}

describe('RecordBatch v2 writer', () => {
  it('writes the bytes @platformatic/kafka writes for the same records', () => {
    // Without the record 2^31 ms or more after the first: platformatic 1.35 writes such a delta as a negative varint
    // (its own reader then reads -3,000,000,001 for +3,000,000,000); the next test checks this writer's encoding of it.
    const records = sampleRecords().filter((r) => Math.abs(Number(r.timestamp) - base) < 2 ** 31);
    assert.equal(records.length, 299);
    const mine = encodeRecordBatch(records, { producerId: pid, producerEpoch: 7, baseSequence: 41, now: base });
    const theirs = createRecordsBatch(asPlatformatic(records) as never, {
      producerId: pid,
      producerEpoch: 7,
      partitionLeaderEpoch: -1,
      sequences: { getWithDefault: () => 41 } as never,
    }).buffer;
    assert.equal(mine.length, theirs.length);
    assert.ok(mine.equals(theirs), 'byte-for-byte equal');
  });

  it('decodes to the records it was given, with a valid CRC-32C', () => {
    const records = sampleRecords();
    const bytes = encodeRecordBatch(records, { producerId: pid, producerEpoch: 7, baseSequence: 2_147_483_000, transactional: true, now: base });
    const batch = readRecordsBatch(Reader.from(bytes)) as unknown as {
      magic: number; crc: number; attributes: number; lastOffsetDelta: number; firstTimestamp: bigint; maxTimestamp: bigint;
      producerId: bigint; producerEpoch: number; firstSequence: number; partitionLeaderEpoch: number; length: number;
      records: Array<{ timestampDelta: bigint; offsetDelta: number; key: Buffer | null; value: Buffer | null; headers: Array<[Buffer, Buffer]> }>;
    };
    assert.equal(batch.magic, 2);
    assert.equal(batch.length, bytes.length - 12);
    assert.equal(batch.partitionLeaderEpoch, -1);
    assert.equal(batch.crc, jsCRC32C(bytes.subarray(21)) >>> 0);
    assert.equal(batch.attributes, 1 << 4, 'transactional bit, no compression');
    assert.equal(batch.lastOffsetDelta, records.length - 1);
    assert.equal(batch.firstTimestamp, BigInt(base));
    assert.equal(batch.maxTimestamp, BigInt(base + 3_000_000_000));
    assert.equal(batch.producerId, pid);
    assert.equal(batch.producerEpoch, 7);
    assert.equal(batch.firstSequence, 2_147_483_000);
    assert.equal(batch.records.length, records.length);
    batch.records.forEach((got, i) => {
      const want = records[i]!;
      assert.equal(got.offsetDelta, i);
      assert.equal(Number(got.timestampDelta), Number(want.timestamp) - base, `record ${i} timestamp`);
      const key = want.key === null || want.key === undefined ? null : Buffer.from(want.key);
      assert.deepEqual(got.key === null || got.key === undefined ? null : Buffer.from(got.key), key, `record ${i} key`);
      assert.deepEqual(got.value === null || got.value === undefined ? null : Buffer.from(got.value), want.value === null ? null : Buffer.from(want.value), `record ${i} value`);
      const headers = Object.fromEntries(got.headers.map(([k, v]) => [k.toString(), v.toString()]));
      assert.deepEqual(headers, Object.fromEntries(Object.entries(want.headers ?? {}).map(([k, v]) => [k, v!.toString()])), `record ${i} headers`);
    });
  });

  it('uses the time it is given for records without a timestamp, and refuses an empty batch', () => {
    const bytes = encodeRecordBatch([{ value: 'a' }, { value: 'b', timestamp: String(base + 10) }], { producerId: -1n, producerEpoch: -1, baseSequence: -1, now: base });
    const batch = readRecordsBatch(Reader.from(bytes)) as unknown as { firstTimestamp: bigint; maxTimestamp: bigint; producerId: bigint; firstSequence: number };
    assert.equal(batch.firstTimestamp, BigInt(base));
    assert.equal(batch.maxTimestamp, BigInt(base + 10));
    assert.equal(batch.producerId, -1n);
    assert.equal(batch.firstSequence, -1);
    assert.throws(() => encodeRecordBatch([], { producerId: pid, producerEpoch: 0, baseSequence: 0, now: base }), /no records/);
  });
});
