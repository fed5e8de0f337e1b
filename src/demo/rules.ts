import type { MetricDefinition } from '../derive/definitions.js';
import { sliding, tumbling } from '../derive/windows.js';

/** Failures of one market and platform within 10 minutes that fire the demo's alert. */
export const FAILURE_ALERT_THRESHOLD = 12;
/** The metric that rule watches (a sliding 10-minute count per market and platform). */
export const FAILURE_ALERT_METRIC = 'payment_failures_10m';

/**
 * The demo's derived metrics, in the style of the Kitopi write-up (tumbling counts for dashboards, rejections at
 * once, rolling-window alert rules) plus the Deliveroo questions (distinct users, money at risk, payments that
 * never went through).
 */
export const demoMetrics: MetricDefinition[] = [
  // One truth: compared per minute and tag set with StatsD and the warehouse.
  { name: 'payment_failures_1m', from: 'orders.v1.PaymentFailed', groupBy: ['market', 'platform'], window: tumbling('1m', { grace: '30s' }) },
  { name: 'orders_created_5m', from: 'orders.v1.OrderPlaced', groupBy: ['market'], window: tumbling('5m', { grace: '30s' }) },
  { name: 'order_rejections', from: 'orders.v1.OrderRejected', groupBy: ['aggregator', 'reason'] },
  // Reactive alert: a market and platform with many failed payments within 10 minutes.
  {
    name: FAILURE_ALERT_METRIC, from: 'orders.v1.PaymentFailed', groupBy: ['market', 'platform'], window: sliding('10m', { grace: '30s' }),
    alert: { atLeast: FAILURE_ALERT_THRESHOLD },
  },
  // Kitopi's rejection rules, per restaurant: 3 within 10 minutes (reactive), 3 within 20 (proactive).
  { name: 'rejections_10m', from: 'orders.v1.OrderRejected', groupBy: ['restaurant_id'], window: sliding('10m', { grace: '30s' }), alert: { atLeast: 3 } },
  { name: 'rejections_20m', from: 'orders.v1.OrderRejected', groupBy: ['restaurant_id'], window: sliding('20m', { grace: '30s' }), alert: { atLeast: 3 } },
  {
    name: 'payment_success_rate_5m', from: ['orders.v1.PaymentSucceeded', 'orders.v1.PaymentFailed'], groupBy: ['market'], window: tumbling('5m', { grace: '30s' }),
    aggregate: { kind: 'ratio', numerator: { eventTypes: ['orders.v1.PaymentSucceeded'] }, denominator: {} },
  },
  {
    name: 'users_failed_payment_5m', from: 'orders.v1.PaymentFailed', groupBy: ['market', 'platform'], window: tumbling('5m', { grace: '30s' }),
    aggregate: { kind: 'countDistinct', field: 'context.user_id', relativeError: 0.01 },
  },
  { name: 'amount_at_risk_5m', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('5m', { grace: '30s' }), aggregate: { kind: 'sum', field: 'amount.amount_minor' } },
  // Payment attempted, no success within 10 minutes.
  {
    name: 'unconfirmed_payments_5m', from: 'orders.v1.PaymentAttempted', groupBy: ['market', 'platform'], window: tumbling('5m', { grace: '30s' }),
    notFollowedBy: { event: 'orders.v1.PaymentSucceeded', within: '10m' },
  },
];
