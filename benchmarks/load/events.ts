/**
 * The events the load benchmark pre-fills its topic with: all seven orders.v1 event types in the proportions
 * of an order flow (placed → sent to restaurant → payment attempted → succeeded / failed → delivered, with
 * some rejections), with realistic field sizes. A pool of distinct events is built once and cycled; every
 * published record still gets its own event id, offset and key.
 */
import type { EventMap } from '../../src/generated/examples.js';

export type AnyEvent = { [K in keyof EventMap]: { type: K; event: EventMap[K] } }[keyof EventMap];

const MARKETS = ['GB', 'FR', 'IT', 'IE', 'AE', 'KW'] as const;
const PLATFORMS = ['ANDROID', 'IOS', 'WEB'] as const;
const METHODS = ['CARD', 'APPLE_PAY', 'GOOGLE_PAY', 'PAYPAL'] as const;
const AGGREGATORS = ['direct', 'talabat', 'careem', 'deliveroo', 'ubereats'] as const;
const REASONS = ['OUT_OF_STOCK', 'RESTAURANT_CLOSED', 'TOO_BUSY', 'AGGREGATOR_TIMEOUT'] as const;
const CURRENCY: Record<string, string> = { GB: 'GBP', FR: 'EUR', IT: 'EUR', IE: 'EUR', AE: 'AED', KW: 'KWD' };

/** Out of every 20 events: the type mix of the pre-filled topic. */
export const MIX: Array<[keyof EventMap, number]> = [
  ['orders.v1.OrderPlaced', 4],
  ['orders.v1.OrderSentToRestaurant', 4],
  ['orders.v1.PaymentAttempted', 4],
  ['orders.v1.PaymentSucceeded', 3],
  ['orders.v1.PaymentFailed', 1],
  ['orders.v1.OrderRejected', 1],
  ['orders.v1.OrderDelivered', 3],
];

const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;

function one(type: keyof EventMap, i: number): AnyEvent {
  const market = pick(MARKETS, i);
  const orderId = `ord_${(1_000_000_000 + i * 7919).toString(36)}_${market.toLowerCase()}`;
  const context = {
    userId: `usr_${(i * 2654435761) % 4_000_000}`,
    sessionId: `ses_${(i * 40503 + 17).toString(16).padStart(12, '0')}`,
    deviceId: `dev_${(i % 5000).toString(16).padStart(8, '0')}`,
    ...(i % 3 === 0 ? { appVersion: `5.${i % 20}.${i % 7}` } : {}),
  };
  const platform = pick(PLATFORMS, i >> 1);
  const method = pick(METHODS, i >> 2);
  const at = new Date(Date.UTC(2026, 10, 23, 12, 0, 0) + i * 137);
  const amount = { amountMinor: 500 + ((i * 7907) % 20_000), currency: CURRENCY[market]! };
  const restaurantId = `rst_${(i * 31) % 12_000}`;
  switch (type) {
    case 'orders.v1.OrderPlaced':
      return { type, event: { orderId, context, restaurantId, market, platform, total: amount, itemCount: 1 + (i % 6), placedAt: at } };
    case 'orders.v1.OrderSentToRestaurant':
      return { type, event: { orderId, context, restaurantId, market, aggregator: pick(AGGREGATORS, i), sentAt: at } };
    case 'orders.v1.PaymentAttempted':
      return { type, event: { orderId, context, market, platform, method, amount, attempt: 1 + (i % 2), attemptedAt: at } };
    case 'orders.v1.PaymentSucceeded':
      return { type, event: { orderId, context, market, platform, method, amount, pspReference: `psp_${(i * 104729).toString(36)}${(i * 7).toString(36)}`, succeededAt: at } };
    case 'orders.v1.PaymentFailed':
      return { type, event: { orderId, context, market, platform, method, amount, errorCode: `psp_declined_${i % 17}`, retryable: i % 2 === 0, attempt: 1 + (i % 3), failedAt: at } };
    case 'orders.v1.OrderRejected':
      return {
        type,
        event: { orderId, context, restaurantId, market, aggregator: pick(AGGREGATORS, i), reason: pick(REASONS, i), ...(i % 2 === 0 ? { detail: 'restaurant did not accept within 120 s' } : {}), rejectedAt: at },
      };
    case 'orders.v1.OrderDelivered':
      return { type, event: { orderId, context, riderId: `rdr_${(i * 13) % 9000}`, market, platform, durationMinutes: 18 + (i % 40), deliveredAt: at } };
    case 'restaurants.v1.RestaurantProfile':
      return { type, event: { restaurantId, name: `Kitchen ${i % 12_000}`, region: `${market}-${i % 4}`, brand: `brand_${i % 9}`, market, updatedAt: at } };
  }
}

/** A pool of `size` distinct events in the MIX proportions, interleaved. */
export function loadEventPool(size = 8192): AnyEvent[] {
  const wheel: Array<keyof EventMap> = MIX.flatMap(([t, w]) => Array<keyof EventMap>(w).fill(t));
  const pool: AnyEvent[] = [];
  for (let i = 0; i < size; i++) pool.push(one(wheel[(i * 7) % wheel.length]!, i));
  return pool;
}
