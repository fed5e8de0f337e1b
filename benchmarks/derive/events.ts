/**
 * The input of benchmarks/derive: orders.v1.OrderPlaced events only, with event times (placedAt, which the
 * publisher puts in the md-occurred-at header) spread evenly over `spanMs`, each moved by up to ±`jitterMs` so
 * that records arrive a little out of order — always less than the 1-minute grace, so no event is late.
 * `keys` distinct order ids (the record key, the publisher's key_field) are drawn by a multiplicative hash of
 * the event number; the market is a function of the order id (the same order is always in the same market).
 * The restaurant id is drawn from `restaurants` ids (default 12,000); the `join` variant uses a few hundred and
 * pre-fills a table topic with one RestaurantProfile per id (`restaurantProfile`), each in one of REGIONS; the
 * high-cardinality variants use 100,000 (`restaurant`) and 20,000 (`users`, with user ids from 50,000).
 */
import type { OrderPlaced, RestaurantProfile } from '../../src/generated/examples.js';

export interface EventPlan {
  n: number;
  /** Distinct order ids (record keys). */
  keys: number;
  /** First event time (aligned to 5 minutes), ms since epoch. */
  startMs: number;
  spanMs: number;
  jitterMs: number;
  /** Distinct restaurant ids (default 12,000). */
  restaurants?: number;
  /** Distinct user ids (default 4,000,000: nearly one per event). */
  users?: number;
}

export const MARKETS = ['GB', 'FR', 'IT', 'IE', 'AE', 'KW'] as const;
const PLATFORMS = ['ANDROID', 'IOS', 'WEB'] as const;
const CURRENCY: Record<string, string> = { GB: 'GBP', FR: 'EUR', IT: 'EUR', IE: 'EUR', AE: 'AED', KW: 'KWD' };

/** 20 regions: restaurant r is in REGIONS[r % 20]. */
export const REGIONS = Array.from({ length: 20 }, (_, i) => `region_${String(i).padStart(2, '0')}`);
export const restaurantKey = (r: number) => `rst_${r}`;

/** The table row of restaurant r (0 ≤ r < plan.restaurants), keyed by restaurant_id. */
export function restaurantProfile(r: number, updatedAtMs: number): RestaurantProfile {
  return {
    restaurantId: restaurantKey(r),
    name: `Restaurant ${r}`,
    region: REGIONS[r % REGIONS.length]!,
    brand: `brand_${r % 37}`,
    market: MARKETS[r % MARKETS.length]!,
    updatedAt: new Date(updatedAtMs),
  } as RestaurantProfile;
}

export const WINDOW_MS = 5 * 60_000;

/** 5-minute aligned start, `hoursAgo` before now: the whole span lies in the past. */
export function planStart(hoursAgo: number, now = Date.now()): number {
  return Math.floor((now - hoursAgo * 3_600_000) / WINDOW_MS) * WINDOW_MS;
}

export const keyOf = (k: number) => `ord_${(1_000_000_000 + k * 7919).toString(36)}`;
export const marketOf = (k: number) => MARKETS[k % MARKETS.length]!;

/** A user of `users` for event i, by an integer hash (a multiplicative one repeats every few events of a restaurant). */
function userOf(i: number, users: number): number {
  const h = Math.imul(i ^ (i >>> 13), 2246822519) >>> 0;
  return (h ^ (h >>> 16)) % users;
}

/** Event i of the plan. */
export function orderPlaced(i: number, plan: EventPlan): OrderPlaced {
  const k = Number((BigInt(i) * 2654435761n) % BigInt(plan.keys));
  const market = marketOf(k);
  const steps = 2 * Math.floor(plan.jitterMs / 1000) + 1;
  const jitter = (((i * 7907) % steps) - Math.floor(steps / 2)) * 1000;
  const at = Math.max(plan.startMs, plan.startMs + Math.floor((i * plan.spanMs) / plan.n) + jitter);
  return {
    orderId: keyOf(k),
    context: {
      userId: `usr_${plan.users === undefined ? (i * 2654435761) % 4_000_000 : userOf(i, plan.users)}`,
      sessionId: `ses_${(i * 40503 + 17).toString(16).padStart(12, '0')}`,
      deviceId: `dev_${(i % 5000).toString(16).padStart(8, '0')}`,
      ...(i % 3 === 0 ? { appVersion: `5.${i % 20}.${i % 7}` } : {}),
    },
    restaurantId: restaurantKey((i * 31) % (plan.restaurants ?? 12_000)),
    market,
    platform: PLATFORMS[(i >> 1) % PLATFORMS.length]!,
    total: { amountMinor: 500 + ((i * 7907) % 20_000), currency: CURRENCY[market]! },
    itemCount: 1 + (i % 6),
    placedAt: new Date(at),
  } as OrderPlaced;
}
