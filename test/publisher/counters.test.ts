import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventRegistry } from '../../src/schema/registry.js';
import { schema } from '../../src/generated/examples.js';
import { CounterPlanner } from '../../src/publisher/counters.js';
import { paymentFailed } from '../support/events.js';

describe('CounterPlanner', () => {
  const registry = new EventRegistry(schema);
  const planner = () => new CounterPlanner(registry, { prefix: 'p.', globalTags: { env: 'test' }, maxTagValuesPerTag: 100, eventTypeTag: 'event_type' });
  const counter = (p: CounterPlanner, e: ReturnType<typeof paymentFailed>) => {
    const { prepared } = registry.encode('orders.v1.PaymentFailed', e);
    return p.counterFor('orders.v1.PaymentFailed', prepared, e as unknown as Record<string, unknown>)!;
  };

  it('gives one frozen increment per tag-value combination, keyed by name and values', () => {
    const p = planner();
    const a = counter(p, paymentFailed({ market: 'GB', platform: 'IOS', method: 'CARD', retryable: true }));
    const b = counter(p, paymentFailed({ market: 'GB', platform: 'IOS', method: 'CARD', retryable: true, orderId: 'other' }));
    const c = counter(p, paymentFailed({ market: 'FR', platform: 'IOS', method: 'CARD', retryable: true }));
    const d = counter(p, paymentFailed({ market: 'GB', platform: 'IOS', method: 'CARD', retryable: false }));
    assert.equal(a, b, 'the same object for the same tag values');
    assert.notEqual(a, c);
    assert.notEqual(a, d);
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.tags));
    assert.deepEqual({ ...a, tags: { ...a.tags } }, {
      name: 'p.payment_failed',
      value: 1,
      key: 'p.payment_failed|GB|IOS|CARD|true',
      tags: { env: 'test', event_type: 'orders.v1.PaymentFailed', market: 'GB', platform: 'IOS', method: 'CARD', retryable: 'true' },
    });
    assert.equal(d.key, 'p.payment_failed|GB|IOS|CARD|false');
    assert.equal(d.tags.retryable, 'false');
  });
});
