import type { EventMap } from '../../src/generated/examples.js';

let seq = 0;

/** A valid PaymentFailed with overridable fields, for tests. */
export function paymentFailed(overrides: Partial<EventMap['orders.v1.PaymentFailed']> = {}): EventMap['orders.v1.PaymentFailed'] {
  seq++;
  return {
    orderId: `order-${seq}`,
    context: { userId: `user-${seq % 97}`, sessionId: `session-${seq}`, deviceId: `device-${seq % 13}` },
    market: 'GB',
    platform: 'ANDROID',
    method: 'CARD',
    amount: { amountMinor: 1250 + seq, currency: 'GBP' },
    errorCode: `psp_declined_${seq % 7}`,
    retryable: seq % 2 === 0,
    attempt: 1,
    failedAt: new Date(Date.UTC(2026, 10, 23, 12, 0, 0, seq % 1000)),
    ...overrides,
  };
}

export function orderPlaced(overrides: Partial<EventMap['orders.v1.OrderPlaced']> = {}): EventMap['orders.v1.OrderPlaced'] {
  seq++;
  return {
    orderId: `order-${seq}`,
    context: { userId: `user-${seq % 97}`, sessionId: `session-${seq}`, deviceId: `device-${seq % 13}`, appVersion: '5.12.0' },
    restaurantId: `restaurant-${seq % 31}`,
    market: 'FR',
    platform: 'IOS',
    total: { amountMinor: '9007199254740993', currency: 'EUR' },
    itemCount: 3,
    placedAt: new Date(Date.UTC(2026, 10, 23, 11, 59, 0, seq % 1000)),
    ...overrides,
  };
}
