import type { CounterIncrement, CounterSink, ProduceRecord, RecordPosition, RecordSink, SendListener } from '../types.js';
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

  send(record: ProduceRecord): Promise<RecordPosition>;
  send<R>(record: ProduceRecord, listener: SendListener<R>): Promise<R>;
  send<R>(record: ProduceRecord, listener?: SendListener<R>): Promise<R | RecordPosition> {
    const count = this.partitions(record.topic);
    const partition = record.key === null ? 0 : partitionForKey(record.key, count);
    const k = `${record.topic}/${partition}`;
    const offset = this.offsets.get(k) ?? 0;
    this.offsets.set(k, offset + 1);
    const position = { topic: record.topic, partition, offset: String(offset) };
    const headers = Object.fromEntries(Object.entries(record.headers).map(([h, v]) => [h, v.toString()]));
    this.records.push({ key: record.key, value: record.value, headers, timestampMs: record.timestampMs, ...position });
    this.stats.delivered++;
    // Asynchronously, as the Kafka sink: a listener hears of the ack after send() returned.
    return listener ? Promise.resolve(position).then((pos) => listener.acked(pos)) : Promise.resolve(position);
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
