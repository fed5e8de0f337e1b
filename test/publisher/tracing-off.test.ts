import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createMemoryPublisher } from '../../src/testing.js';
import { schema } from '../../src/generated/examples.js';
import { paymentFailed } from '../support/events.js';

// The publisher skips its span when no OpenTelemetry SDK is registered and no span is active; these check that
// nothing observable changes: the headers of an active span context are still written, and an SDK registered
// later is used from the next publish on.
describe('trace context without an OpenTelemetry SDK', () => {
  after(() => {
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('writes no trace headers outside any span, and the active span context without an SDK', async () => {
    const publisher = createMemoryPublisher({ schema });
    await publisher.publish('orders.v1.PaymentFailed', paymentFailed());
    assert.equal(publisher.records[0]!.headers.traceparent, undefined);
    assert.equal(publisher.records[0]!.headers.tracestate, undefined);

    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const parent = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
    await context.with(trace.setSpanContext(context.active(), parent), () => publisher.publish('orders.v1.PaymentFailed', paymentFailed()));
    assert.equal(publisher.records[1]!.headers.traceparent, `00-${parent.traceId}-${parent.spanId}-01`);

    await publisher.publish('orders.v1.PaymentFailed', paymentFailed());
    assert.equal(publisher.records[2]!.headers.traceparent, undefined, 'outside the span again');
  });

  it('a propagator registered without a tracer provider still gets to inject', async () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const publisher = createMemoryPublisher({ schema });
    const parent = { traceId: '1af7651916cd43dd8448eb211c80319c', spanId: 'c7ad6b7169203331', traceFlags: TraceFlags.NONE };
    await context.with(trace.setSpanContext(context.active(), parent), () => publisher.publish('orders.v1.PaymentFailed', paymentFailed()));
    assert.equal(publisher.records[0]!.headers.traceparent, `00-${parent.traceId}-${parent.spanId}-00`);
    propagation.disable();
  });

  it('uses an SDK registered after the publisher was created', async () => {
    const publisher = createMemoryPublisher({ schema });
    await publisher.publish('orders.v1.PaymentFailed', paymentFailed());
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    const receipt = await publisher.publish('orders.v1.PaymentFailed', paymentFailed());
    const spans = exporter.getFinishedSpans();
    assert.equal(spans.length, 1, 'one producer span, for the publish after registration');
    assert.equal(spans[0]!.attributes['messaging.message.id'], receipt.eventId);
    const sc = spans[0]!.spanContext();
    assert.equal(publisher.records[1]!.headers.traceparent, `00-${sc.traceId}-${sc.spanId}-01`);
  });
});
