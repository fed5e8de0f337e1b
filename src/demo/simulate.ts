import type { EventMap } from '../generated/examples.js';

type Published = { [K in keyof EventMap]: { type: K; event: EventMap[K] } }[keyof EventMap];

const MARKETS = ['GB', 'FR', 'IT', 'IE', 'AE', 'KW'] as const;
const PLATFORMS = ['ANDROID', 'IOS', 'WEB'] as const;
const METHODS = ['CARD', 'APPLE_PAY', 'GOOGLE_PAY', 'PAYPAL'] as const;
const AGGREGATORS = ['direct', 'talabat', 'careem', 'deliveroo', 'ubereats'] as const;
const REASONS = ['OUT_OF_STOCK', 'RESTAURANT_CLOSED', 'TOO_BUSY', 'AGGREGATOR_TIMEOUT'] as const;

/** A small seeded PRNG (mulberry32), so a demo run is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimulationOptions {
  orders: number;
  users: number;
  seed: number;
  /** Start of the simulated period. */
  startMs: number;
  /** Length of the simulated period. */
  spanMs: number;
  /** Probability a payment attempt fails. */
  paymentFailureRate: number;
  /**
   * An incident: between `fromMs` and `toMs`, payment attempts of `platform` users in `market` fail with
   * `failureRate` (a provider timeout, retryable); some users retry and succeed, some give up.
   */
  incident?: { market: (typeof MARKETS)[number]; platform: (typeof PLATFORMS)[number]; fromMs: number; toMs: number; failureRate: number };
}

export { MARKETS, PLATFORMS };

/**
 * The ordering flow of the Deliveroo write-up, order by order: placed → payment attempted → failed (and
 * perhaps retried) or succeeded → sent to the restaurant → rejected or delivered. Every event of an order
 * shares its order id, so they land in one partition in order.
 */
export function* simulateOrders(o: SimulationOptions): Generator<Published> {
  const rand = rng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  for (let i = 0; i < o.orders; i++) {
    const user = Math.floor(rand() * o.users);
    const orderId = `ord-${o.seed}-${i}`;
    const context = { userId: `user-${user}`, sessionId: `sess-${o.seed}-${i}`, deviceId: `dev-${user}` };
    const market = MARKETS[user % MARKETS.length]!;
    const platform = PLATFORMS[Math.floor(user / MARKETS.length) % PLATFORMS.length]!; // independent of the market
    const method = pick(METHODS);
    const amount = { amountMinor: 800 + Math.floor(rand() * 4000), currency: market === 'GB' ? 'GBP' : market === 'AE' ? 'AED' : market === 'KW' ? 'KWD' : 'EUR' };
    let t = o.startMs + Math.floor((i / Math.max(1, o.orders)) * o.spanMs);
    const at = () => new Date((t += 1000 + Math.floor(rand() * 20_000)));
    const restaurantId = `rest-${Math.floor(rand() * 40)}`;
    yield { type: 'orders.v1.OrderPlaced', event: { orderId, context, restaurantId, market, platform, total: amount, itemCount: 1 + Math.floor(rand() * 5), placedAt: at() } };
    let paid = false;
    for (let attempt = 1; attempt <= 3 && !paid; attempt++) {
      const attemptedAt = at();
      yield { type: 'orders.v1.PaymentAttempted', event: { orderId, context, market, platform, method, amount, attempt, attemptedAt } };
      const inc = o.incident;
      const hit = !!inc && market === inc.market && platform === inc.platform && attemptedAt.getTime() >= inc.fromMs && attemptedAt.getTime() < inc.toMs;
      if (rand() < (hit ? inc.failureRate : o.paymentFailureRate)) {
        const retryable = hit ? rand() < 0.9 : rand() < 0.7;
        yield { type: 'orders.v1.PaymentFailed', event: { orderId, context, market, platform, method, amount, errorCode: hit ? 'psp_sdk_timeout' : retryable ? 'psp_timeout' : 'card_declined', retryable, attempt, failedAt: at() } };
        // Some users give up (always after a non-retryable failure).
        if (!retryable || rand() < (hit ? 0.3 : 0.4)) break;
      } else {
        paid = true;
        yield { type: 'orders.v1.PaymentSucceeded', event: { orderId, context, market, platform, method, amount, pspReference: `psp-${o.seed}-${i}`, succeededAt: at() } };
      }
    }
    if (!paid) continue;
    const aggregator = pick(AGGREGATORS);
    yield { type: 'orders.v1.OrderSentToRestaurant', event: { orderId, context, restaurantId, market, aggregator, sentAt: at() } };
    if (rand() < 0.02) {
      yield { type: 'orders.v1.OrderRejected', event: { orderId, context, restaurantId, market, aggregator, reason: pick(REASONS), rejectedAt: at() } };
    } else {
      yield { type: 'orders.v1.OrderDelivered', event: { orderId, context, riderId: `rider-${Math.floor(rand() * 200)}`, market, platform, durationMinutes: 15 + Math.floor(rand() * 40), deliveredAt: at() } };
    }
  }
}
