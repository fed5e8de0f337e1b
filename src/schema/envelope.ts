/**
 * Kafka header names of the envelope every published record carries. Consumers (the loader, derive, tail,
 * or anyone's own) read the event's identity from here without decoding the value.
 */
export const HEADER = {
  eventType: 'md-event-type',
  eventId: 'md-event-id',
  occurredAt: 'md-occurred-at',
  producer: 'md-producer',
  schemaFingerprint: 'md-schema-fingerprint',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;
