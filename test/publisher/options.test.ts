import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPublisher, OptionsError, SchemaError } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';

function optionsError(options: unknown): OptionsError {
  try {
    createPublisher(options as never);
  } catch (err) {
    assert.ok(err instanceof OptionsError, `expected OptionsError, got ${String(err)}`);
    return err;
  }
  assert.fail('createPublisher accepted invalid options');
}

describe('publisher options are validated at construction', () => {
  const kafka = { brokers: ['127.0.0.1:9092'] };

  it('names the path of the bad option', () => {
    assert.equal(optionsError({ schema }).optionPath, 'kafka');
    assert.equal(optionsError({ schema, kafka: { brokers: [] } }).optionPath, 'kafka.brokers');
    assert.equal(optionsError({ schema, kafka: { brokers: ['no-port'] } }).optionPath, 'kafka.brokers[0]');
    assert.equal(optionsError({ schema, kafka, lingerMs: -1 }).optionPath, 'lingerMs');
    assert.equal(optionsError({ schema, kafka, statsd: { port: 70000 } }).optionPath, 'statsd.port');
    assert.equal(optionsError({ schema, kafka, statsd: { protocol: 'uds' } }).optionPath, 'statsd.path');
    assert.equal(optionsError({ schema, kafka, overflow: 'drop' }).optionPath, 'overflow');
    assert.equal(optionsError({ schema, kafka, maxBatchCount: 10, maxBufferedEvents: 5 }).optionPath, 'maxBatchCount');
  });

  it('rejects unknown options (a misspelt option is not silently ignored)', () => {
    const err = optionsError({ schema, kafka, lingerMS: 5 });
    assert.equal(err.optionPath, 'lingerMS');
    assert.match(err.message, /not a known option/);
  });

  it('never echoes a secret in the error', () => {
    const err = optionsError({ schema, kafka: { ...kafka, sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 12345678 } } });
    assert.equal(err.optionPath, 'kafka.sasl.password');
    assert.doesNotMatch(err.message, /12345678/);
  });

  it('rejects something that is not a schema bundle', () => {
    assert.throws(() => createPublisher({ schema: { bundle: { version: 1 } } as never, kafka, statsd: false }), SchemaError);
  });

  it('accepts valid options without connecting anywhere', async () => {
    const publisher = createPublisher({ schema, kafka, statsd: false, lingerMs: 0 });
    await publisher.close();
  });
});
