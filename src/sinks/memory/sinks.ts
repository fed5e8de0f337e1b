import type { CounterIncrement, CounterSink, ProduceRecord, RecordPosition, RecordSink } from '../types.js';
import { partitionForKey } from '../../kafka/murmur2.js';

/** A record as it would have been written to Kafka; header values as strings. */
export interface MemoryRecord extends RecordPosition {
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
  timestampMs: number;
}

/** Records what would have been written to Kafka, with the partition Java's partitioner would pick. */
export class MemoryRecordSink implements RecordSink {
  readonly records: MemoryRecord[] = [];
  private readonly offsets = new Map<string, number>();
  readonly stats = { queued: 0, inFlight: 0, delivered: 0, failed: 0, dropped: 0 };

  constructor(private readonly partitions: (topic: string) => number) {}

  send(record: ProduceRecord): Promise<RecordPosition> {
    const count = this.partitions(record.topic);
    const partition = record.key === null ? 0 : partitionForKey(record.key, count);
    const k = `${record.topic}/${partition}`;
    const offset = this.offsets.get(k) ?? 0;
    this.offsets.set(k, offset + 1);
    const position = { topic: record.topic, partition, offset: String(offset) };
    const headers = Object.fromEntries(Object.entries(record.headers).map(([h, v]) => [h, v.toString()]));
    this.records.push({ key: record.key, value: record.value, headers, timestampMs: record.timestampMs, ...position });
    this.stats.delivered++;
    return Promise.resolve(position);
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Records every counter increment the StatsD sink would send. */
export class MemoryCounterSink implements CounterSink {
  readonly counters: CounterIncrement[] = [];
  increments = 0;
  errors = 0;

  increment(counter: CounterIncrement): void {
    this.increments++;
    this.counters.push(counter);
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
