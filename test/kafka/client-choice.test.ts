import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OptionsError } from '../../src/errors.js';
import { createKafkaClient, kafkaConnectionSchema } from '../../src/kafka/client.js';

const conn = (extra: object = {}) => kafkaConnectionSchema.parse({ brokers: ['127.0.0.1:9'], ...extra });

describe('which Kafka client a connection gets', () => {
  it('the connection names it, else MULTIDISPATCH_KAFKA_CLIENT, else the path\'s default, else kafkajs', (t) => {
    const saved = process.env.MULTIDISPATCH_KAFKA_CLIENT;
    t.after(() => (saved === undefined ? delete process.env.MULTIDISPATCH_KAFKA_CLIENT : (process.env.MULTIDISPATCH_KAFKA_CLIENT = saved)));
    delete process.env.MULTIDISPATCH_KAFKA_CLIENT;
    assert.equal(createKafkaClient(conn()).name, 'kafkajs');
    assert.equal(createKafkaClient(conn(), 'platformatic').name, 'platformatic');
    assert.equal(createKafkaClient(conn({ client: 'kafkajs' }), 'platformatic').name, 'kafkajs');
    process.env.MULTIDISPATCH_KAFKA_CLIENT = 'platformatic';
    assert.equal(createKafkaClient(conn(), 'kafkajs').name, 'platformatic', 'the override replaces a path default');
    assert.equal(createKafkaClient(conn({ client: 'kafkajs' })).name, 'kafkajs', 'but not a client the connection names');
    process.env.MULTIDISPATCH_KAFKA_CLIENT = 'librdkafka';
    assert.throws(() => createKafkaClient(conn()), (e: unknown) => e instanceof OptionsError && /MULTIDISPATCH_KAFKA_CLIENT.*librdkafka.*kafkajs, platformatic/.test(e.message));
  });
});
