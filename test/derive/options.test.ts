/**
 * The runner's option check, without a broker: a bad value fails at construction with an OptionsError naming the
 * option (the constructor opens nothing, so the broker address is never used).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OptionsError } from '../../src/errors.js';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { isBindHost } from '../../src/derive/options.js';
import { DeriveRunner, type DeriveOptions } from '../../src/derive/runner.js';
import { tumbling } from '../../src/derive/windows.js';
import { capturingLogger } from '../support/loader.js';

const metrics = defineMetrics(schema, [{ name: 'rejections_1m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: tumbling('1m') }]);
const make = (extra: Partial<DeriveOptions>) => new DeriveRunner({ kafka: { brokers: ['127.0.0.1:1'] }, schema, metrics, logger: capturingLogger().logger, ...extra });

describe('derive runner options: prometheusHost', () => {
  it('takes loopback, every interface (0.0.0.0, ::), other addresses and host names', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::', '::1', '10.1.2.3', 'fe80::1', 'localhost', 'derive-0.derive.svc.cluster.local']) {
      assert.ok(isBindHost(host), host);
      assert.doesNotThrow(() => make({ prometheusPort: 0, prometheusHost: host }), host);
    }
  });

  it('refuses what is not an address, naming the option', () => {
    for (const host of ['', '10.0.0.256', '[::]', '127.0.0.1:9464', 'http://0.0.0.0', 'two words', '-leading.dash']) {
      assert.equal(isBindHost(host), false, host);
      assert.throws(
        () => make({ prometheusPort: 0, prometheusHost: host }),
        (err: unknown) => err instanceof OptionsError && err.optionPath === 'derive.prometheusHost' && /must be an IP address/.test(err.message),
        JSON.stringify(host),
      );
    }
  });

  it('needs prometheusPort', () => {
    assert.throws(() => make({ prometheusHost: '0.0.0.0' }), (err: unknown) => err instanceof OptionsError && err.optionPath === 'derive.prometheusHost' && /needs prometheusPort/.test(err.message));
  });
});
