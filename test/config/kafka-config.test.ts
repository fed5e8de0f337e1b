/**
 * The Kafka connection resolver: precedence (-X > --brokers > KAFKA_* > properties file > --config's kafka object),
 * librdkafka names, the errors for what it cannot use, secrets kept out of messages, and OIDC tokens.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connectionFromProperties, kafkaPropertiesFromEnv, parseKafkaProperties, resolveKafkaConfig } from '../../src/config/kafka.js';
import { redact } from '../../src/config/secrets.js';
import { OptionsError, UsageError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'md-kafka-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('Kafka client properties', () => {
  it('merges -X > --brokers > environment > properties file > config object, first wins', () => {
    const props = file('p1.properties', [
      '# a comment', '! another', 'bootstrap.servers = file:1', 'client.id: from-file', 'request.timeout.ms=1111', 'socket.connection.setup.timeout.ms=2222', '',
    ].join('\n'));
    const conn = resolveKafkaConfig({
      config: { properties: { 'bootstrap.servers': 'config:1', 'client.id': 'from-config', 'request.timeout.ms': 9999, 'socket.connection.setup.timeout.ms': 9999 }, where: 'c.json' },
      file: props,
      env: { KAFKA_REQUEST_TIMEOUT_MS: '3333', KAFKA_BROKERS: 'env:1', KAFKA_HEAP_OPTS: '-Xmx1g' },
      overrides: ['client.id=from-x'],
    });
    assert.deepEqual(conn.brokers, ['env:1']);
    assert.equal(conn.clientId, 'from-x');
    assert.equal(conn.requestTimeoutMs, 3333);
    assert.equal(conn.connectionTimeoutMs, 2222);
    assert.deepEqual(resolveKafkaConfig({ file: props, env: { KAFKA_BROKERS: 'env:1' }, brokers: 'flag:1,flag:2' }).brokers, ['flag:1', 'flag:2']);
    assert.deepEqual(resolveKafkaConfig({ file: props, env: {} }).brokers, ['file:1']);
    assert.deepEqual(resolveKafkaConfig({ env: {}, fallbackBrokers: () => 'dev:1' }).brokers, ['dev:1']);
  });

  it('maps KAFKA_<NAME> with dots as underscores, only for known names; KAFKA_BOOTSTRAP_SERVERS wins over KAFKA_BROKERS', () => {
    assert.deepEqual(kafkaPropertiesFromEnv({ KAFKA_SASL_USERNAME: 'u', KAFKA_SSL_CA_LOCATION: '/ca.pem', KAFKA_OPTS: 'x', KAFKA_BROKERS: 'a:1', KAFKA_BOOTSTRAP_SERVERS: 'b:1' }),
      { 'sasl.username': 'u', 'ssl.ca.location': '/ca.pem', 'bootstrap.servers': 'b:1' });
  });

  it('builds SASL_SSL with SCRAM and a CA file, and keeps the password out of every message', () => {
    const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const conn = resolveKafkaConfig({
      env: { KAFKA_SASL_PASSWORD: 's3cret-from-env' },
      overrides: ['bootstrap.servers=b:9093', 'security.protocol=sasl_ssl', 'sasl.mechanisms=SCRAM-SHA-512', 'sasl.username=loader', `ssl.ca.location=${ca}`],
    });
    assert.deepEqual(conn.sasl, { mechanism: 'scram-sha-512', username: 'loader', password: 's3cret-from-env' });
    assert.equal((conn.ssl as { ca: string }).ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    assert.equal((conn.ssl as { rejectUnauthorized: boolean }).rejectUnauthorized, true);
    assert.equal(redact('error near s3cret-from-env!'), 'error near [redacted]!');
  });

  it("reads the Java clients' sasl.jaas.config (Confluent Cloud's client.properties as downloaded)", () => {
    const props = parseKafkaProperties([
      'bootstrap.servers=pkc-1.aws.confluent.cloud:9092', 'security.protocol=SASL_SSL', 'sasl.mechanism=PLAIN',
      "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username='KEY1' password='jaas-secret-1';",
      'client.dns.lookup=use_all_dns_ips', 'session.timeout.ms=45000', 'acks=all',
    ].join('\n'), 'ccloud.properties');
    const conn = connectionFromProperties(props);
    assert.deepEqual(conn.sasl, { mechanism: 'plain', username: 'KEY1', password: 'jaas-secret-1' });
    assert.equal(conn.ssl, true, 'TLS with the system CAs');
    assert.equal(redact('jaas-secret-1'), '[redacted]');
  });

  it('names the property, where it came from and a likely fix for what it cannot use', () => {
    const bad = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => (e instanceof OptionsError || e instanceof UsageError) && re.test((e as Error).message));
    bad(() => parseKafkaProperties('bootstrap.servers=a:1\nsasl.pasword=x\n', 'client.properties'), /'client\.properties:2: sasl\.pasword'.*did you mean 'sasl\.password'/);
    bad(() => resolveKafkaConfig({ env: {}, overrides: ['security.protcol=SSL'] }), /'-X: security\.protcol'.*did you mean 'security\.protocol'/);
    bad(() => resolveKafkaConfig({ env: {}, overrides: ['ssl.truststore.location=/x.jks'] }), /Java keystores are not read here.*ssl\.ca\.location/);
    bad(() => resolveKafkaConfig({ env: {}, overrides: ['bootstrap.servers=a:1', 'sasl.username=u'] }), /'sasl\.username'.*security\.protocol is PLAINTEXT/);
    bad(() => resolveKafkaConfig({ env: {}, overrides: ['bootstrap.servers=a:1', 'security.protocol=TLS'] }), /security\.protocol.*PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL/);
    bad(() => resolveKafkaConfig({ env: {}, overrides: ['bootstrap.servers=a:1', 'security.protocol=SASL_SSL', 'sasl.mechanisms=SCRAM-SHA-512', 'sasl.username=u'] }), /'sasl\.password': is required/);
    bad(() => resolveKafkaConfig({ env: {}, overrides: ['bootstrap.servers=a:1', 'security.protocol=SSL', `ssl.ca.location=${join(dir, 'nope.pem')}`] }), /'ssl\.ca\.location'.*cannot read .*nope\.pem \(ENOENT\)/);
    bad(() => resolveKafkaConfig({ env: {}, overrides: ['bootstrap.servers=a'] }), /'bootstrap\.servers'.*'a' must be host:port/);
    bad(() => resolveKafkaConfig({ env: {}, overrides: ['nonsense'] }), /-X takes name=value/);
    bad(() => resolveKafkaConfig({ env: {} }), /no Kafka brokers: pass --brokers/);
    bad(() => resolveKafkaConfig({ env: {}, file: join(dir, 'missing.properties') }), /--kafka-config .*missing\.properties: cannot read the file \(ENOENT\)/);
  });

  it('client picks the Kafka client library from -X, KAFKA_CLIENT or a properties file, and names the source of a bad value', () => {
    assert.equal(resolveKafkaConfig({ env: {}, overrides: ['bootstrap.servers=b:1', 'client=platformatic'] }).client, 'platformatic');
    assert.equal(resolveKafkaConfig({ env: { KAFKA_BROKERS: 'b:1', KAFKA_CLIENT: 'KafkaJS' } }).client, 'kafkajs');
    const props = file('client.properties', 'bootstrap.servers=b:1\nclient=platformatic\n');
    assert.equal(resolveKafkaConfig({ env: {}, file: props }).client, 'platformatic');
    assert.equal(resolveKafkaConfig({ env: {}, file: props, overrides: ['client=kafkajs'] }).client, 'kafkajs');
    assert.equal(resolveKafkaConfig({ env: { KAFKA_BROKERS: 'b:1' } }).client, undefined);
    assert.throws(() => resolveKafkaConfig({ env: { KAFKA_BROKERS: 'b:1', KAFKA_CLIENT: 'rdkafka' } }),
      (e: unknown) => e instanceof OptionsError && /environment KAFKA_CLIENT: client/.test(e.message) && /kafkajs or platformatic, got 'rdkafka'/.test(e.message));
    const bad = file('bad-client.properties', 'bootstrap.servers=b:1\nclient=librdkafka\n');
    assert.throws(() => resolveKafkaConfig({ env: {}, file: bad }), (e: unknown) => e instanceof OptionsError && e.message.includes(`${bad}:2: client`));
    assert.throws(() => resolveKafkaConfig({ env: {}, overrides: ['bootstrap.servers=b:1', 'client=java'] }), /'-X: client'.*got 'java'/);
    assert.throws(() => connectionFromProperties({ 'bootstrap.servers': 'b:1', client: 'java' }), /'client'.*got 'java'/);
  });

  it('a secret given wrong is never quoted back', () => {
    try {
      resolveKafkaConfig({ env: {}, overrides: ['bootstrap.servers=a:1', 'sasl.password=pw-quoted-nowhere'] });
      assert.fail('expected an error');
    } catch (err) {
      assert.doesNotMatch((err as Error).message, /pw-quoted-nowhere/);
    }
  });

  it('OAUTHBEARER through OIDC client credentials: asks the token endpoint once and reuses the token', async () => {
    let calls = 0;
    let auth = '';
    let body = '';
    const server = createServer((req, res) => {
      calls++;
      auth = req.headers.authorization ?? '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'tok-123456', expires_in: 3600 })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const conn = resolveKafkaConfig({ env: {}, overrides: [
        'bootstrap.servers=a:1', 'security.protocol=SASL_SSL', 'sasl.mechanisms=OAUTHBEARER', 'sasl.oauthbearer.method=oidc',
        'sasl.oauthbearer.client.id=md-client', 'sasl.oauthbearer.client.secret=oidc-secret-9', `sasl.oauthbearer.token.endpoint.url=http://127.0.0.1:${port}/token`,
        'sasl.oauthbearer.scope=kafka',
      ] });
      const provider = (conn.sasl as { oauthBearerProvider: () => Promise<{ value: string }> }).oauthBearerProvider;
      assert.deepEqual(await provider(), { value: 'tok-123456' });
      assert.deepEqual(await provider(), { value: 'tok-123456' });
      assert.equal(calls, 1, 'the token is reused until it nears expiry');
      assert.equal(auth, `Basic ${Buffer.from('md-client:oidc-secret-9').toString('base64')}`);
      assert.equal(body, 'grant_type=client_credentials&scope=kafka');
      assert.equal(redact('oidc-secret-9 tok-123456'), '[redacted] [redacted]');
    } finally {
      server.close();
    }
  });
});
