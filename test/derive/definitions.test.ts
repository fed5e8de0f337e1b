import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { schema } from '../../src/generated/examples.js';
import { DefinitionError, defineMetrics, type MetricDefinition } from '../../src/derive/definitions.js';
import { hopping, sliding, tumbling } from '../../src/derive/windows.js';

const rejects = (defs: MetricDefinition[], re: RegExp) =>
  assert.throws(() => defineMetrics(schema, defs), (err: unknown) => err instanceof DefinitionError && re.test(err.message));

describe('derive definitions are validated at load, naming the definition', () => {
  it('the Kitopi and Deliveroo metrics resolve', () => {
    const m = defineMetrics(schema, [
      { name: 'orders_created', from: 'orders.v1.OrderPlaced', groupBy: ['market'], window: tumbling('5m', { grace: '30s' }) },
      { name: 'order_rejections', from: 'orders.v1.OrderRejected', groupBy: ['aggregator', 'reason'] },
      { name: 'rejections_10m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: sliding('10m', { grace: '30s' }), alert: { atLeast: 3 } },
      { name: 'rejections_20m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: sliding('20m'), alert: { atLeast: 3 } },
      {
        name: 'payment_success_rate', from: ['orders.v1.PaymentSucceeded', 'orders.v1.PaymentFailed'], groupBy: ['market'], window: tumbling('1m'),
        aggregate: { kind: 'ratio', numerator: { eventTypes: ['orders.v1.PaymentSucceeded'] }, denominator: {} },
      },
      { name: 'users_failed_payment', from: 'orders.v1.PaymentFailed', groupBy: ['market', 'platform'], window: hopping('10m', '5m'), aggregate: { kind: 'countDistinct', field: 'context.user_id', relativeError: 0.01 } },
      { name: 'amount_at_risk', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('5m'), aggregate: { kind: 'sum', field: 'amount.amountMinor' } },
    ]);
    assert.deepEqual(m.map((x) => x.name), ['orders_created', 'order_rejections', 'rejections_10m', 'rejections_20m', 'payment_success_rate', 'users_failed_payment', 'amount_at_risk']);
    assert.deepEqual(m[5]!.valuePath, ['context', 'userId']);
    assert.deepEqual(m[6]!.valuePath, ['amount', 'amountMinor']);
    assert.deepEqual(m[1]!.groupBy, [{ label: 'aggregator', path: ['aggregator'] }, { label: 'reason', path: ['reason'] }]);
  });

  it('unknown event types and fields, bad names and shapes are rejected with the definition name', () => {
    rejects([{ name: 'x', from: 'orders.v1.OrderCreated' }], /^metric 'x': unknown event type 'orders\.v1\.OrderCreated'/);
    rejects([{ name: 'by_region', from: 'orders.v1.OrderPlaced', groupBy: ['region'] }], /^metric 'by_region': groupBy field 'region': OrderPlaced has no field 'region'/);
    rejects([{ name: 'mixed', from: ['orders.v1.OrderPlaced', 'orders.v1.OrderRejected'], groupBy: ['platform'] }], /^metric 'mixed': groupBy field 'platform': OrderRejected has no field 'platform'/);
    rejects([{ name: 'by_ctx', from: 'orders.v1.OrderPlaced', groupBy: ['context'] }], /^metric 'by_ctx': groupBy field 'context' of OrderPlaced is a message/);
    rejects([{ name: 'sum_market', from: 'orders.v1.OrderPlaced', window: tumbling('5m'), aggregate: { kind: 'sum', field: 'market' } }], /sum field 'market' of OrderPlaced is a string; sum field needs number/);
    rejects([{ name: 'Orders-Created', from: 'orders.v1.OrderPlaced' }], /^metric 'Orders-Created': name must be lower-case/);
    rejects([{ name: 'a', from: 'orders.v1.OrderPlaced' }, { name: 'a', from: 'orders.v1.OrderPlaced' }], /^metric 'a': is defined twice/);
    rejects([{ name: 's', from: 'orders.v1.PaymentFailed', aggregate: { kind: 'sum', field: 'attempt' } }], /^metric 's': an unwindowed metric emits per event and can only count/);
    rejects([{ name: 'al', from: 'orders.v1.OrderRejected', window: sliding('10m'), alert: {} }], /^metric 'al': alert needs atLeast or atMost/);
    rejects([{ name: 'r', from: 'orders.v1.PaymentFailed', window: tumbling('1m'), aggregate: { kind: 'ratio', numerator: { eventTypes: ['orders.v1.PaymentSucceeded'] }, denominator: {} } }], /^metric 'r': ratio numerator event type 'orders\.v1\.PaymentSucceeded' is not in 'from'/);
  });

  it('unknown keys are errors naming the definition and the key, with the closest known key', () => {
    const bad = (d: Record<string, unknown>) => d as unknown as MetricDefinition;
    rejects([bad({ name: 'w', from: 'orders.v1.OrderPlaced', groupBy: ['market'], windw: tumbling('5m') })], /^metric 'w': unknown key 'windw' \(did you mean 'window'\?\)/);
    rejects([bad({ name: 'c', from: 'orders.v1.OrderPlaced', colour: 'red' })], /^metric 'c': unknown key 'colour' \(allowed: name, from,/);
    rejects([bad({ name: 'a', from: 'orders.v1.OrderPlaced', window: tumbling('5m'), aggregate: { kind: 'sum', feild: 'total.amount_minor' } })], /^metric 'a': unknown key 'feild' in aggregate sum \(did you mean 'field'\?\)/);
    rejects([bad({ name: 'k', from: 'orders.v1.OrderPlaced', window: tumbling('5m'), aggregate: { kind: 'median', field: 'x' } })], /^metric 'k': unknown aggregate 'median' \(count, sum, countDistinct, ratio, percentile\)/);
    rejects([bad({ name: 'al', from: 'orders.v1.OrderRejected', window: sliding('10m'), alert: { atleast: 3 } })], /^metric 'al': unknown key 'atleast' in alert \(did you mean 'atLeast'\?\)/);
    rejects([bad({ name: 'wn', from: 'orders.v1.OrderPlaced', window: { kind: 'tumbling', size: '5m' } })], /^metric 'wn': unknown key 'size' in window tumbling \(make it with tumbling\(\)\)/);
    rejects([bad({ name: 'nf', from: 'orders.v1.PaymentAttempted', window: tumbling('5m'), notFollowedBy: { event: 'orders.v1.PaymentSucceeded', whithin: '10m' } })], /^metric 'nf': unknown key 'whithin' in notFollowedBy \(did you mean 'within'\?\)/);
    rejects([bad({ name: 'rt', from: 'orders.v1.PaymentFailed', window: tumbling('1m'), aggregate: { kind: 'ratio', numerator: { eventType: ['orders.v1.PaymentFailed'] }, denominator: {} } })], /^metric 'rt': unknown key 'eventType' in ratio numerator \(did you mean 'eventTypes'\?\)/);
    assert.throws(
      () => defineMetrics(schema, [], { tables: [{ name: 'restaurant', from: 'restaurants.v1.RestaurantProfile', globl: true } as unknown as { name: string; from: string }] }),
      /^.*table restaurant': unknown key 'globl' \(did you mean 'global'\?\)/,
    );
  });

  it('percentiles: a numeric field and quantiles from 0 to 1', () => {
    const [m] = defineMetrics(schema, [{ name: 'delivery_p95', from: 'orders.v1.OrderDelivered', groupBy: ['market'], window: tumbling('5m'), aggregate: { kind: 'percentile', field: 'duration_minutes', quantiles: [0.5, 0.95, 0.99] } }]);
    assert.deepEqual(m!.valuePath, ['durationMinutes']);
    const p = (aggregate: Record<string, unknown>) => [{ name: 'p', from: 'orders.v1.OrderDelivered', window: tumbling('5m'), aggregate } as unknown as MetricDefinition];
    rejects(p({ kind: 'percentile', field: 'market', quantiles: [0.5] }), /^metric 'p': percentile field 'market' of OrderDelivered is a string/);
    rejects(p({ kind: 'percentile', field: 'duration_minutes', quantiles: [] }), /percentile needs quantiles/);
    rejects(p({ kind: 'percentile', field: 'duration_minutes', quantiles: [95] }), /percentile quantile 95 must be a number from 0 to 1/);
    rejects(p({ kind: 'percentile', field: 'duration_minutes', quantiles: [0.5], relativeAccuracy: 0 }), /relativeAccuracy must be between 0 and 1/);
  });
});
