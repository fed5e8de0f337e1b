import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

const tracer = () => trace.getTracer('multidispatch');

/**
 * Starts the producer span (a no-op unless the application registered a tracer provider) and writes the
 * W3C trace context of that span, or of the active one, into the record headers. The traceparent is
 * written here rather than only through a registered propagator, so it is present whenever a span is active.
 */
export function startPublishSpan(topic: string, eventType: string, eventId: string, headers: Record<string, string>): Span {
  const parent = context.active();
  const span = tracer().startSpan(
    `send ${topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
        'messaging.destination.name': topic,
        'messaging.message.id': eventId,
        'multidispatch.event_type': eventType,
      },
    },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  const sc = span.spanContext();
  if (trace.isSpanContextValid(sc)) {
    headers.traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
    const state = sc.traceState?.serialize();
    if (state) headers.tracestate = state;
  }
  propagation.inject(ctx, headers);
  return span;
}

export function endPublishSpan(span: Span, partition?: number, offset?: string, error?: Error): void {
  if (!span.isRecording()) return span.end();
  if (error) {
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  } else if (partition !== undefined) {
    span.setAttribute('messaging.destination.partition.id', String(partition));
    if (offset !== undefined) span.setAttribute('messaging.kafka.offset', Number(offset));
  }
  span.end();
}
