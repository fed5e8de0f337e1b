import { v7 as uuidv7 } from 'uuid';
import { ClosedError } from '../errors.js';
import { HEADER } from '../schema/envelope.js';
import type { EventRegistry } from '../schema/registry.js';
import type { EventMapBase, TagRule } from '../schema/types.js';
import { CardinalityGuard } from '../sinks/statsd/guard.js';
import { sanitizeMetricName, sanitizeTagName, sanitizeTagValue } from '../sinks/statsd/sanitize.js';
import type { CounterIncrement, CounterSink, RecordSink } from '../sinks/types.js';
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
  statsd: { prefix: string; globalTags: Record<string, string>; maxTagValuesPerTag: number; countOn: 'accept' | 'ack'; eventTypeTag: string } | undefined;
}

/** Per-event-type StatsD plan, computed once. */
interface CounterPlan {
  name: string;
  tags: TagRule[];
  base: Record<string, string>;
}

/** Builds a publisher over any pair of sinks: the real ones or the in-memory ones used in tests. */
export function createPublisherCore<M extends EventMapBase>(options: CoreOptions): Publisher<M> {
  const { registry, records, counters, statsd } = options;
  const guard = new CardinalityGuard(statsd?.maxTagValuesPerTag ?? 100);
  const plans = new Map<string, CounterPlan | null>();
  let closed = false;
  let invalid = 0;

  const planFor = (eventType: string): CounterPlan | null => {
    let plan = plans.get(eventType);
    if (plan !== undefined) return plan;
    const { rule } = registry.lookup(eventType);
    if (!statsd || !counters || !rule.statsdCounter) plan = null;
    else {
      const base: Record<string, string> = {};
      for (const [k, v] of Object.entries(statsd.globalTags)) base[sanitizeTagName(k)] = sanitizeTagValue(v);
      if (statsd.eventTypeTag) base[sanitizeTagName(statsd.eventTypeTag)] = sanitizeTagValue(eventType);
      plan = { name: sanitizeMetricName(statsd.prefix + rule.metricName), tags: rule.tags, base };
    }
    plans.set(eventType, plan);
    return plan;
  };

  const counterFor = (plan: CounterPlan, prepared: Record<string, unknown>, event: Record<string, unknown>): CounterIncrement => {
    const tags = { ...plan.base };
    for (const t of plan.tags) {
      let value: string;
      if (t.kind === 'enum') {
        const raw = event[t.field];
        value = typeof raw === 'string' ? raw : raw === undefined ? 'unset' : String(raw);
      } else if (t.kind === 'bool') value = prepared[t.field] === true ? 'true' : 'false';
      else {
        const raw = prepared[t.field];
        value = typeof raw === 'string' && t.allowedValues!.includes(raw) ? raw : raw === undefined ? 'unset' : 'other';
      }
      const name = sanitizeTagName(t.protoName);
      tags[name] = guard.admit(plan.name, name, sanitizeTagValue(value));
    }
    return { name: plan.name, tags, value: 1 };
  };

  const publish = (eventType: string, event: object): Promise<PublishReceipt> => {
    if (closed) return Promise.reject(new ClosedError());
    try {
      const encoded = registry.encode(eventType, event);
      const { rule } = encoded.compiled;
      const occurredAtMs = encoded.eventTimeMs ?? Date.now();
      const eventId = uuidv7();
      const headers: Record<string, string> = {
        [HEADER.eventType]: eventType,
        [HEADER.eventId]: eventId,
        [HEADER.occurredAt]: new Date(occurredAtMs).toISOString(),
        [HEADER.producer]: options.producer,
        [HEADER.schemaFingerprint]: encoded.compiled.fingerprint,
      };
      // The record timestamp is the publish time: brokers reject timestamps more than an hour ahead of their
      // clock (log.message.timestamp.after.max.ms), and a client's event time may be skewed. The event's own
      // time travels in the md-occurred-at header.
      const span = startPublishSpan(rule.topic, eventType, eventId, headers);
      let pending: Promise<import('../sinks/types.js').RecordPosition>;
      try {
        pending = records.send({ topic: rule.topic, key: encoded.key, value: Buffer.from(encoded.bytes.buffer, encoded.bytes.byteOffset, encoded.bytes.byteLength), headers, timestampMs: Date.now() });
      } catch (err) {
        endPublishSpan(span, undefined, undefined, err as Error);
        throw err;
      }
      const plan = planFor(eventType);
      const counter = plan ? counterFor(plan, encoded.prepared, event as Record<string, unknown>) : undefined;
      if (counter && statsd!.countOn === 'accept') counters!.increment(counter);
      return pending.then(
        (pos) => {
          if (counter && statsd!.countOn === 'ack') counters!.increment(counter);
          endPublishSpan(span, pos.partition, pos.offset);
          return { eventId, eventType, occurredAt: new Date(occurredAtMs), topic: pos.topic, partition: pos.partition, offset: pos.offset };
        },
        (err: Error) => {
          endPublishSpan(span, undefined, undefined, err);
          throw err;
        },
      );
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
        tagOverflows: guard.overflows,
      };
    },
  };
}
