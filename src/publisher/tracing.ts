import { context, propagation, ProxyTracerProvider, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';

const tracer = () => trace.getTracer('multidispatch');

/** The provider the API hands out while no SDK registered one (a fresh proxy's delegate is that singleton). */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a publish span would have any effect: false when no tracer provider is registered, no span is active
 * (so none would be recorded and no trace context written) and the registered propagator writes nothing. Checked
 * on every publish, so an SDK registered later is picked up at once.
 */
function tracingOff(parent: Context): boolean {
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_PROVIDER && trace.getSpan(parent) === undefined && propagation.fields().length === 0;
}

/**
 * Starts the producer span (a no-op unless the application registered a tracer provider) and writes the
 * W3C trace context of that span, or of the active one, into the record headers. The traceparent is
 * written here rather than only through a registered propagator, so it is present whenever a span is active.
 */
export function startPublishSpan(topic: string, eventType: string, eventId: string, headers: Record<string, string>): Span | undefined {
  const parent = context.active();
  // Without an SDK and outside any span, the span would be a non-recording one with an invalid context: skip it.
  if (tracingOff(parent)) return undefined;
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

export function endPublishSpan(span: Span | undefined, partition?: number, offset?: string, error?: Error): void {
  if (!span) return;
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
