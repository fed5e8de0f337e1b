import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sanitizeMetricName, sanitizeTagName, sanitizeTagValue } from '../../../src/sinks/statsd/sanitize.js';
import { createMemoryPublisher } from '../../../src/testing.js';
import { schema } from '../../../src/generated/examples.js';
import { paymentFailed } from '../../support/events.js';

/**
 * Characters that end a StatsD line or split it into fields: line breaks and other whitespace (including the
 * Unicode ones, which a receiver or a log pipeline may treat as a line end), control characters of both C0 and
 * C1 (U+0085 NEL among them), and the DogStatsD delimiters.
 */
const HOSTILE = ['\n', '\r', '\t', '\v', '\f', ' ', '\u0000', '\u001b', '\u007f', '\u0085', '\u009f', '\u2028', '\u2029', '\u00a0', '\u3000', '\u1680', '\u2007', '\u202f', '\ufeff', '|', ':', ',', '#', '@'];
const hex = (c: string) => `U+${c.codePointAt(0)!.toString(16).padStart(4, '0')}`;

describe('StatsD name and tag sanitising', () => {
  it('no hostile character survives in a tag value, a tag name or a metric name', () => {
    for (const c of HOSTILE) {
      const input = `a${c}b`;
      assert.equal(sanitizeTagValue(input), 'a_b', `tag value: ${hex(c)}`);
      assert.equal(sanitizeTagName(input), 'a_b', `tag name: ${hex(c)}`);
      assert.equal(sanitizeMetricName(input), 'a_b', `metric name: ${hex(c)}`);
    }
    const all = HOSTILE.join('');
    for (const out of [sanitizeTagValue(all), sanitizeTagName(all), sanitizeMetricName(all)]) {
      assert.equal(out, '_'.repeat(HOSTILE.length));
    }
  });

  it('tag values keep ordinary letters, accented and CJK included; names keep only [A-Za-z0-9_.-]', () => {
    assert.equal(sanitizeTagValue('Zürich café 東京'), 'Zürich_café_東京');
    assert.equal(sanitizeTagValue('checkout-api_v2.1/EU'), 'checkout-api_v2.1/EU');
    assert.equal(sanitizeTagName('café.ü'), 'caf_._');
    assert.equal(sanitizeMetricName('orders.payment_failed-v2'), 'orders.payment_failed-v2');
  });

  it('empty input becomes _ and tag values are cut at 200 characters', () => {
    assert.equal(sanitizeTagValue(''), '_');
    assert.equal(sanitizeTagName(''), '_');
    assert.equal(sanitizeMetricName(''), '_');
    assert.equal(sanitizeTagValue('x'.repeat(250)).length, 200);
  });

  it('the publisher cleans the names and values of global tags with these rules', async () => {
    const publisher = createMemoryPublisher({ schema, statsd: { globalTags: { 'team\u0085x': 'pay\u0085ments\u2028forged:1|c' } } });
    await publisher.publish('orders.v1.PaymentFailed', paymentFailed());
    const tags = publisher.counters[0]!.tags;
    assert.equal(tags.team_x, 'pay_ments_forged_1_c');
  });
});
