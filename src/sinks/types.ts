import type { ProduceRecord, RecordPosition } from '../kafka/producer.js';

export type { ProduceRecord, RecordPosition };

/**
 * What a sent record's promise settles with: `acked` turns the record's position into the value it resolves with,
 * `failed` hears of the error before it rejects. Saves the publisher a second promise per event.
 */
export interface SendListener<R> {
  acked(position: RecordPosition): R;
  failed(err: Error): void;
}

/** Where Kafka records go: the real batching producer, or memory in application tests. */
export interface RecordSink {
  /** Accepts a record (throws synchronously when it cannot) and settles when it is acknowledged or failed. */
  send(record: ProduceRecord): Promise<RecordPosition>;
  send<R>(record: ProduceRecord, listener: SendListener<R>): Promise<R>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** A StatsD counter increment, final: prefixed name and sanitised, guarded tags. */
export interface CounterIncrement {
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly value: number;
  /** Identifies name + tag values; increments with equal keys can be summed. */
  readonly key: string;
}

/** Where counters go: hot-shots over UDP/UDS/TCP, or memory. Never throws into the caller. */
export interface CounterSink {
  increment(counter: CounterIncrement): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}
