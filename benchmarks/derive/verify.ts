/**
 * Reads the output topics back (read_committed, untimed) into one map per run: "<group>|<window start ms>" →
 * count, so the two implementations can be compared window by window.
 *   D (multidispatch): DerivedMetric protobuf values (decodeMetric); only final values are emitted; values of the
 *     same group and window are added up (without a repartition stage, each input partition emits its own
 *     partial count of a group that spans partitions — the `market` variant).
 *   K (Kafka Streams, emit on update): key "<group>|<window start>", value an 8-byte big-endian count; the last
 *     value per key is the window's result.
 * Windows that start at or after `excludeFrom` (the flush records' own windows) are left out of both.
 */
import { createHash } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { decodeMetric } from 'multidispatch';

export interface OutputSummary {
  records: number;
  /** Distinct (group, window) after combining. */
  windows: number;
  /** Sum of the counts over all windows. */
  total: number;
  /** D: records with final = false (expected 0). K: n/a. */
  nonFinal?: number;
  /** Records of the flush windows left out. */
  excluded: number;
  /** SHA-256 of the sorted "<group>|<start>=<count>" lines: equal digests ⇒ identical results. */
  digest: string;
  readMs: number;
}

async function readAll(kafka: Kafka, topic: string, onMessage: (m: KafkaMessage) => void): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const high = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  const pending = new Set(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => o.partition));
  if (pending.size === 0) return 0;
  const consumer = kafka.consumer({ groupId: `bench-derive-verify-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`, readUncommitted: false, maxBytes: 32 * 2 ** 20 });
  await consumer.connect();
  let n = 0;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(idle);
        clearTimeout(deadline);
        resolve();
      };
      const deadline = setTimeout(() => reject(new Error(`reading ${topic} back took over 180 s`)), 180_000);
      // Transaction markers take offsets too: a partition is read once its last data offset + 1 reaches high − 1
      // (the last marker); an idle timer covers anything else.
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(finish, 4000);
      };
      arm();
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              onMessage(m);
              n++;
            }
            arm();
            if (batch.messages.length > 0 && BigInt(batch.lastOffset()) + 2n >= high.get(batch.partition)!) pending.delete(batch.partition);
            if (pending.size === 0) finish();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return n;
}

export type OutputMap = Map<string, number>;

/** How `a` differs from `b`, window by window. */
export function compareOutputs(a: OutputMap, b: OutputMap): { same: boolean; onlyInA: number; onlyInB: number; differing: number; aMinusB: number } {
  let onlyInA = 0;
  let onlyInB = 0;
  let differing = 0;
  let aMinusB = 0;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined) onlyInA++;
    else if (w !== v) differing++;
    aMinusB += v - (w ?? 0);
  }
  for (const [k, w] of b) {
    if (!a.has(k)) {
      onlyInB++;
      aMinusB -= w;
    }
  }
  return { same: onlyInA + onlyInB + differing === 0, onlyInA, onlyInB, differing, aMinusB };
}

function summarise(map: Map<string, number>, records: number, excluded: number, t0: number, extra: Partial<OutputSummary> = {}): { summary: OutputSummary; map: OutputMap } {
  const lines = [...map].map(([k, v]) => `${k}=${v}`).sort();
  let total = 0;
  for (const v of map.values()) total += v;
  return { summary: { records, windows: map.size, total, excluded, digest: createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16), readMs: Date.now() - t0, ...extra }, map };
}

export async function readDerive(kafka: Kafka, topic: string, metric: string, dimension: string, excludeFrom: number): Promise<{ summary: OutputSummary; map: OutputMap }> {
  const t0 = Date.now();
  const map = new Map<string, number>();
  let excluded = 0;
  let nonFinal = 0;
  const records = await readAll(kafka, topic, (m) => {
    if (!m.value) return;
    const d = decodeMetric(m.value);
    if (d.name !== metric) return;
    if (!d.final) {
      nonFinal++;
      return;
    }
    if ((d.windowStart ?? 0) >= excludeFrom) {
      excluded++;
      return;
    }
    const k = `${d.dimensions[dimension] ?? ''}|${d.windowStart}`;
    map.set(k, (map.get(k) ?? 0) + d.value);
  });
  return summarise(map, records, excluded, t0, { nonFinal });
}

export async function readStreams(kafka: Kafka, topic: string, excludeFrom: number): Promise<{ summary: OutputSummary; map: OutputMap }> {
  const t0 = Date.now();
  const map = new Map<string, number>();
  const excludedKeys = new Set<string>();
  const records = await readAll(kafka, topic, (m) => {
    if (!m.key || !m.value) return;
    const k = m.key.toString('utf8');
    const start = Number(k.slice(k.lastIndexOf('|') + 1));
    if (start >= excludeFrom) {
      excludedKeys.add(k);
      return;
    }
    map.set(k, Number(m.value.readBigInt64BE(0)));
  });
  return summarise(map, records, excludedKeys.size, t0);
}
