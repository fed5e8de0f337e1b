import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, defaultTextMapGetter, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createPublisher, HEADER } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { brokers, freshTopic, readAll } from '../support/kafka.js';
import { paymentFailed } from '../support/events.js';

describe('trace context', () => {
  const exporter = new InMemorySpanExporter();
  before(() => {
    // What an application's OTel SDK setup does; the library itself depends only on @opentelemetry/api.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  });
  after(() => {
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('the trace context published is the context a consumer extracts, through a producer span', async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const publisher = createPublisher({ schema, kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
    t.after(() => publisher.close());

    const tracer = trace.getTracer('checkout-service');
    const appSpan = tracer.startSpan('POST /checkout');
    const receipt = await context.with(trace.setSpan(context.active(), appSpan), () => publisher.publish('orders.v1.PaymentFailed', paymentFailed()));
    appSpan.end();

    const [record] = await readAll(topic, { count: 1 });
    assert.ok(record);
    assert.equal(record.headers[HEADER.eventId], receipt.eventId);
    const extracted = new W3CTraceContextPropagator().extract(ROOT_CONTEXT, record.headers, defaultTextMapGetter);
    const consumerSees = trace.getSpanContext(extracted);
    assert.ok(consumerSees, 'a traceparent header was published');

    const producerSpan = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.PRODUCER);
    assert.ok(producerSpan, 'a producer span was recorded');
    assert.equal(consumerSees.traceId, appSpan.spanContext().traceId, 'same trace as the application span');
    assert.equal(consumerSees.spanId, producerSpan.spanContext().spanId, 'the consumer continues from the producer span');
    assert.equal(producerSpan.parentSpanContext?.spanId, appSpan.spanContext().spanId);
    assert.equal(producerSpan.attributes['messaging.system'], 'kafka');
    assert.equal(producerSpan.attributes['messaging.destination.name'], topic);
    assert.equal(producerSpan.attributes['messaging.message.id'], receipt.eventId);
    assert.equal(producerSpan.attributes['messaging.destination.partition.id'], String(receipt.partition));
  });

  it('without an active span no traceparent is invented', async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const publisher = createPublisher({ schema, kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
    t.after(() => publisher.close());
    trace.disable();
    await publisher.publish('orders.v1.PaymentFailed', paymentFailed());
    const [record] = await readAll(topic, { count: 1 });
    assert.equal(record!.headers.traceparent, undefined);
  });
});
