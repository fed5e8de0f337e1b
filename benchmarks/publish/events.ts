/**
 * The events every variant publishes: a fixed pool of PaymentFailed events from the test factories, built
 * before timing and cycled through, so event construction is not part of any measurement. The tag fields
 * vary (6 markets × 3 platforms × 4 methods × retryable) to give the StatsD side 144 counter series.
 */
import type { EventMap } from '../../src/generated/examples.js';
import { paymentFailed } from '../../test/support/events.js';

export type PaymentFailed = EventMap['orders.v1.PaymentFailed'];
export const EVENT_TYPE = 'orders.v1.PaymentFailed' as const;
export const METRIC = 'payment_failed';
export const POOL_SIZE = 4096;

const MARKETS = ['GB', 'FR', 'IT', 'IE', 'AE', 'KW'] as const;
const PLATFORMS = ['ANDROID', 'IOS', 'WEB'] as const;
const METHODS = ['CARD', 'APPLE_PAY', 'GOOGLE_PAY', 'PAYPAL'] as const;

export function eventPool(size = POOL_SIZE): PaymentFailed[] {
  const pool: PaymentFailed[] = [];
  for (let i = 0; i < size; i++) {
    pool.push(
      paymentFailed({
        orderId: `bench-order-${i}`,
        market: MARKETS[i % MARKETS.length]!,
        platform: PLATFORMS[Math.floor(i / 6) % PLATFORMS.length]!,
        method: METHODS[Math.floor(i / 18) % METHODS.length]!,
        retryable: Math.floor(i / 72) % 2 === 0,
      }),
    );
  }
  return pool;
}

/**
 * The counter tags a hand-written client sends for an event: the same names and values multidispatch
 * derives from the schema (event_type, market, platform, method, retryable), read straight off the event.
 */
export function counterTags(e: PaymentFailed): Record<string, string> {
  return { event_type: EVENT_TYPE, market: e.market, platform: String(e.platform), method: String(e.method), retryable: e.retryable ? 'true' : 'false' };
}
