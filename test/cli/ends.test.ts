/**
 * Every command ends: run against a topic that does not exist, a broker that is not there and a wrong password, each
 * command prints one line naming the problem and exits with the code of the shared table — within the spawn timeout,
 * with `MULTIDISPATCH_NO_EXIT_GUARD=1` (set by npm test), so a client, server or timer left open makes it hang and
 * fail here instead of being cut off by the CLI's exit guard. The publisher is run as an application would: a script
 * that awaits publish().
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freeTcpPorts } from '../../src/dev/net.js';
import { brokers, randomSuffix } from '../support/kafka.js';
import { secureBroker, type SecureBroker } from '../support/secure.js';

const root = resolve(import.meta.dirname, '../..');
const TIMEOUT_MS = 90_000;

function run(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, args, { encoding: 'utf8', timeout: TIMEOUT_MS, env: { ...process.env, MULTIDISPATCH_NO_EXIT_GUARD: '1', KAFKA_BROKERS: '', ...env } });
}
/** stderr without JSON log lines. */
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() && !l.startsWith('{'));

type Scenario = 'missing topic' | 'unreachable broker' | 'wrong password';

describe('every command ends: missing topic, unreachable broker, wrong password', () => {
  const dir = mkdtempSync(join(root, '.tmp-derive-ends-'));
  const topic = `md-ends-missing-${randomSuffix()}`;
  let closedPort = 0;
  let secure: SecureBroker;
  const defs = join(dir, 'metrics.mjs');
  const publishScript = join(dir, 'publish.mjs');

  before(async () => {
    closedPort = (await freeTcpPorts(1))[0]!;
    secure = secureBroker();
    mkdirSync(dir, { recursive: true });
    writeFileSync(defs, `import { tumbling } from 'multidispatch';\nexport default [{ name: 'orders_5m', from: 'orders.v1.OrderPlaced', groupBy: ['market'], window: tumbling('5m') }];\n`);
    // What an application does: await publish(), let a failure surface. Exit 1 on an error, after printing it.
    writeFileSync(publishScript, `
import { createPublisher, resolveKafkaConfig } from '${join(root, 'dist/src/index.js')}';
import { schema } from '${join(root, 'dist/src/generated/examples.js')}';
const [file, brokers, topic, ...overrides] = process.argv.slice(2);
const kafka = resolveKafkaConfig({ ...(file !== '-' ? { file } : {}), ...(brokers !== '-' ? { brokers } : {}), overrides });
const publisher = createPublisher({ schema, producer: 'ends', kafka: { ...kafka, connectionTimeoutMs: 1000 }, statsd: false, topics: { 'orders.v1': topic }, deliveryTimeoutMs: 5000 });
try {
  await publisher.publish('orders.v1.OrderPlaced', { orderId: 'o1', restaurantId: 'r1', market: 'FR', platform: 'IOS', itemCount: 1,
    total: { amountMinor: '100', currency: 'EUR' }, context: { userId: 'u', sessionId: 's', deviceId: 'd', appVersion: '1' }, placedAt: new Date() });
  console.log('delivered');
} catch (err) {
  console.error(err.name + ': ' + err.message);
  process.exitCode = 1;
} finally {
  await publisher.close();
}
`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Connection arguments for a scenario. */
  const conn = (s: Scenario): string[] =>
    s === 'missing topic' ? ['--brokers', brokers().join(',')]
    : s === 'unreachable broker' ? ['--brokers', `127.0.0.1:${closedPort}`]
    : ['--kafka-config', secure.properties.tailer!, '-X', 'sasl.password=wrong-password-123'];

  const commands: Record<string, (s: Scenario) => string[]> = {
    load: (s) => ['load', '--once', '--topic', topic, '--proto', 'proto/examples', '--warehouse', `duckdb:${join(dir, `w-${s.replace(/ /g, '-')}.duckdb`)}`, '--no-progress', ...conn(s)],
    derive: (s) => ['derive', '--definitions', defs, '--proto', 'proto/examples', '--topic-rename', `orders.v1=${topic}`, '--group', `ends-${randomSuffix()}`, ...conn(s)],
    tail: (s) => ['tail', '--topic', topic, '--proto', 'proto/examples', ...conn(s)],
    'topics describe': (s) => ['topics', 'describe', topic, ...conn(s)],
    'topics create --from-schema': (s) => ['topics', 'create', '--from-schema', 'proto/examples', '--topic-rename', `orders.v1=${topic}`, ...conn(s)],
    demo: (s) => ['demo', '--orders', '50', '--out', join(dir, 'demo'), ...conn(s)],
  };
  /** These create the topics they use: a missing topic is not a case for them. */
  const createsItsTopics = new Set(['topics create --from-schema', 'demo']);

  const expected: Record<Scenario, { code: number; line: () => RegExp }> = {
    'missing topic': { code: 2, line: () => new RegExp(`^multidispatch: (topic ${topic} not found on the cluster|topic\\(s\\) not found: ${topic}( |$)|topic ${topic} does not exist)`) },
    'unreachable broker': { code: 7, line: () => new RegExp(`^multidispatch: cannot reach Kafka at 127\\.0\\.0\\.1:${'\\d+'}: `) },
    'wrong password': { code: 4, line: () => /^multidispatch: Kafka authentication failed \(SCRAM-SHA-512\): wrong user name or password/ },
  };

  for (const scenario of ['missing topic', 'unreachable broker', 'wrong password'] as const) {
    for (const [name, argsFor] of Object.entries(commands)) {
      if (scenario === 'missing topic' && createsItsTopics.has(name)) continue;
      it(`${name}: ${scenario} → exit ${expected[scenario].code}, one line`, () => {
        const args = argsFor(scenario);
        const r = run(['bin/multidispatch.js', ...args]);
        assert.equal(r.signal, null, `did not end within ${TIMEOUT_MS / 1000} s (killed by ${r.signal}); stderr:\n${r.stderr}`);
        const lines = errorLines(r.stderr);
        assert.equal(r.status, expected[scenario].code, r.stderr);
        assert.equal(lines.length, 1, `one error line, got:\n${lines.join('\n')}`);
        assert.match(lines[0]!, expected[scenario].line());
        assert.doesNotMatch(r.stdout + r.stderr, /wrong-password-123/);
      });
    }
    it(`an awaited publish(): ${scenario} → a typed error, and the script ends`, () => {
      const args =
        scenario === 'missing topic' ? ['-', brokers().join(','), topic]
        : scenario === 'unreachable broker' ? ['-', `127.0.0.1:${closedPort}`, topic]
        : [secure.properties.publisher!, '-', topic, 'sasl.password=wrong-password-123'];
      const r = run([publishScript, ...args]);
      assert.equal(r.signal, null, `the script did not end within ${TIMEOUT_MS / 1000} s; stderr:\n${r.stderr}`);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      const want =
        scenario === 'missing topic' ? new RegExp(`^KafkaDeliveryError: delivery to topic '${topic}' failed: the topic does not exist`)
        : scenario === 'unreachable broker' ? /^DeliveryTimeoutError: record for topic '.*' was not acknowledged within deliveryTimeoutMs=5000/
        : /^KafkaAuthenticationError: Kafka authentication failed \(SCRAM-SHA-512\)/;
      assert.match(r.stderr.trim(), want);
      assert.doesNotMatch(r.stdout + r.stderr, /wrong-password-123/);
    });
  }
});
