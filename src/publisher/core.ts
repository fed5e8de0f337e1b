import { ClosedError } from '../errors.js';
import type { EventRegistry } from '../schema/registry.js';
import type { EventMapBase } from '../schema/types.js';
import type { CounterIncrement, CounterSink, RecordPosition, RecordSink, SendListener } from '../sinks/types.js';
import { CounterPlanner, type CounterRules } from './counters.js';
import { IsoTime, UuidV7 } from './envelope.js';
import { endPublishSpan, startPublishSpan } from './tracing.js';

/** What publish() resolves with: the envelope's identity and where Kafka wrote the record. */
export interface PublishReceipt {
  eventId: string;
  eventType: string;
  occurredAt: Date;
  topic: string;
  partition: number;
  offset: string;
}

export interface PublisherStats {
  /** Accepted, waiting to be batched. */
  queued: number;
  /** In the batch being sent. */
  inFlight: number;
  /** Acknowledged by Kafka. */
  delivered: number;
  /** Failed after being accepted (delivery timeout, non-retriable error). */
  failed: number;
  /** Refused because the buffer was full. */
  dropped: number;
  /** Refused because they did not match their schema. */
  invalid: number;
  /** StatsD increments handed to the side channel, errors it reported, and tag values mapped to `other`. */
  statsdIncrements: number;
  statsdErrors: number;
  tagOverflows: number;
}

/** The publisher every application uses: typed by the generated EventMap. */
export interface Publisher<M extends EventMapBase = EventMapBase> {
  /**
   * Validates, stamps and encodes the event, then dispatches it to Kafka and StatsD. Rejects at once, with
   * nothing sent anywhere, for an invalid event; otherwise settles when Kafka acknowledged the record or
   * definitively failed it.
   */
  publish<K extends keyof M & string>(eventType: K, event: M[K]): Promise<PublishReceipt>;
  /** Waits until everything accepted so far is settled on both sinks. */
  flush(): Promise<void>;
  /** Flushes, then releases the producer and sockets. Later publish() calls reject with ClosedError. */
  close(): Promise<void>;
  stats(): PublisherStats;
}

export interface CoreOptions {
  producer: string;
  registry: EventRegistry;
  records: RecordSink & { stats?: { queued: number; inFlight: number; delivered: number; failed: number; dropped: number } };
  counters: (CounterSink & { errors?: number; increments?: number }) | undefined;
  statsd: (CounterRules & { countOn: 'accept' | 'ack' }) | undefined;
}

/** Header values that are the same for every event of a type, encoded once. */
interface TypeHeaders {
  eventType: Buffer;
  fingerprint: Buffer;
}

/**
 * One publish() in flight: turns the record's position into the receipt, ends the span, counts on ack when asked.
 * A class rather than closures: one object per event, its methods shared.
 */
class Ticket implements SendListener<PublishReceipt> {
  constructor(
    private readonly eventId: string,
    private readonly eventType: string,
    private readonly occurredMs: number,
    private readonly span: ReturnType<typeof startPublishSpan>,
    private readonly counters: CounterSink | undefined,
  ) {}

  /** The StatsD counter to increment once Kafka acknowledged the record (`countOn: 'ack'`). */
  ackCounter: CounterIncrement | undefined = undefined;

  acked(pos: RecordPosition): PublishReceipt {
    if (this.ackCounter) this.counters!.increment(this.ackCounter);
    endPublishSpan(this.span, pos.partition, pos.offset);
    return { eventId: this.eventId, eventType: this.eventType, occurredAt: new Date(this.occurredMs), topic: pos.topic, partition: pos.partition, offset: pos.offset };
  }

  failed(err: Error): void {
    endPublishSpan(this.span, undefined, undefined, err);
  }
}

/** Builds a publisher over any pair of sinks: the real ones or the in-memory ones used in tests. */
export function createPublisherCore<M extends EventMapBase>(options: CoreOptions): Publisher<M> {
  const { registry, records, counters, statsd } = options;
  const planner = statsd && counters ? new CounterPlanner(registry, statsd) : undefined;
  const countOnAck = statsd?.countOn === 'ack';
  const producerHeader = Buffer.from(options.producer);
  const typeHeaders = new Map<string, TypeHeaders>();
  const uuid = new UuidV7();
  const iso = new IsoTime();
  let closed = false;
  let invalid = 0;

  const publish = (eventType: string, event: object): Promise<PublishReceipt> => {
    if (closed) return Promise.reject(new ClosedError());
    try {
      const encoded = registry.encode(eventType, event);
      const { rule, fingerprint } = encoded.compiled;
      const now = Date.now();
      const occurredMs = encoded.eventTimeMs ?? now;
      const eventId = uuid.next(now);
      let constant = typeHeaders.get(eventType);
      if (!constant) typeHeaders.set(eventType, (constant = { eventType: Buffer.from(eventType), fingerprint: Buffer.from(fingerprint) }));
      // The names are HEADER's (schema/envelope.ts; test/publisher/envelope.test.ts checks they agree), written as
      // literal keys: an object literal with constant keys is built from a template, one with computed keys is not.
      const headers: Record<string, string | Buffer> = {
        'md-event-type': constant.eventType,
        'md-event-id': eventId,
        'md-occurred-at': iso.format(occurredMs),
        'md-producer': producerHeader,
        'md-schema-fingerprint': constant.fingerprint,
      };
      // The record timestamp is the publish time: brokers reject timestamps more than an hour ahead of their
      // clock (log.message.timestamp.after.max.ms), and a client's event time may be skewed. The event's own
      // time travels in the md-occurred-at header.
      const span = startPublishSpan(rule.topic, eventType, eventId, headers as Record<string, string>);
      const ticket = new Ticket(eventId, eventType, occurredMs, span, counters);
      let pending: Promise<PublishReceipt>;
      try {
        const { bytes } = encoded;
        const value = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        pending = records.send({ topic: rule.topic, key: encoded.key, value, headers, timestampMs: now }, ticket);
      } catch (err) {
        endPublishSpan(span, undefined, undefined, err as Error);
        throw err;
      }
      // Counted only once Kafka accepted the record (a full buffer throws above); on ack when asked (sinks call
      // `acked` asynchronously, after this).
      const counter = planner?.counterFor(eventType, encoded.prepared, event as Record<string, unknown>);
      if (counter) {
        if (countOnAck) ticket.ackCounter = counter;
        else counters!.increment(counter);
      }
      return pending;
    } catch (err) {
      if ((err as { code?: string }).code === 'MD_VALIDATION' || (err as { code?: string }).code === 'MD_UNKNOWN_EVENT_TYPE') invalid++;
      return Promise.reject(err);
    }
  };

  return {
    publish: publish as Publisher<M>['publish'],
    async flush() {
      await records.flush();
      await counters?.flush();
    },
    async close() {
      if (closed) return;
      closed = true;
      await records.close();
      await counters?.close();
    },
    stats() {
      const r = records.stats ?? { queued: 0, inFlight: 0, delivered: 0, failed: 0, dropped: 0 };
      return {
        queued: r.queued,
        inFlight: r.inFlight,
        delivered: r.delivered,
        failed: r.failed,
        dropped: r.dropped,
        invalid,
        statsdIncrements: counters?.increments ?? 0,
        statsdErrors: counters?.errors ?? 0,
        tagOverflows: planner?.guard.overflows ?? 0,
      };
    },
  };
}
