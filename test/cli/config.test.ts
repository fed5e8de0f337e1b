/**
 * One configuration for every command: a `--config` JSON file (shared "kafka"/"proto" keys and a section per
 * command), a `--kafka-config` properties file, `-X`, and KAFKA_* variables, merged flags > environment > files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { brokers, freshTopic, kafka } from '../support/kafka.js';

const dir = mkdtempSync(join(tmpdir(), 'md-cli-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ['bin/multidispatch.js', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, KAFKA_BROKERS: '', ...env } });
const json = (name: string, value: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(value));
  return p;
};

describe('--config, --kafka-config, -X and KAFKA_* on every command', () => {
  it('tail takes its topic, options and connection from --config; flags win over it', async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const producer = kafka().producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    await producer.disconnect();
    const cfg = json('tail.json', { kafka: { 'bootstrap.servers': brokers().join(','), 'client.id': 'from-config' }, proto: 'proto/examples', tail: { topic, fromBeginning: true, max: 2 } });
    const r = cli(['tail', '--config', cfg]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 2, 'max 2 from the config file');
    const flagWins = cli(['tail', '--config', cfg, '--max', '3']);
    assert.equal(flagWins.status, 0, flagWins.stderr);
    assert.equal(flagWins.stdout.trim().split('\n').length, 3, '--max on the command line wins over the file');
  });

  it('the environment wins over the properties file, and -X over both', () => {
    const props = join(dir, 'client.properties');
    writeFileSync(props, 'bootstrap.servers=127.0.0.1:1\n');
    // The file names a dead port; KAFKA_BROKERS names the suite broker and wins.
    const r = cli(['topics', 'list', '--json', '--kafka-config', props], { KAFKA_BROKERS: brokers().join(',') });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Array.isArray(JSON.parse(r.stdout)));
    // -X names the dead port again and wins over the environment.
    const x = cli(['topics', 'list', '--kafka-config', props, '-X', 'bootstrap.servers=127.0.0.1:1'], { KAFKA_BROKERS: brokers().join(',') });
    assert.equal(x.status, 7, x.stderr);
    assert.match(x.stderr, /^multidispatch: cannot reach Kafka at 127\.0\.0\.1:1: /);
  });

  it('a key that is not an option of the command, or not known at all, is an error naming it (exit 2)', () => {
    const typo = cli(['tail', '--config', json('typo.json', { tail: { topic: 'x', maxx: 2 } })]);
    assert.equal(typo.status, 2, typo.stderr);
    assert.match(typo.stderr, /^multidispatch: invalid option 'config\.tail\.maxx': is not an option of `tail`/);
    const unknown = cli(['derive', '--config', json('unknown.json', { derve: {} })]);
    assert.equal(unknown.status, 2, unknown.stderr);
    assert.match(unknown.stderr, /^multidispatch: invalid option 'config\.derve': is not a known option/);
    const missing = cli(['derive', '--config', json('empty.json', {})]);
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /^multidispatch: missing --definitions <file> \(or "definitions" in the --config file's "derive" object\)/);
    const badProp = cli(['tail', '--topic', 'x', '--config', json('badprop.json', { kafka: { 'sasl.pasword': 'x' } })]);
    assert.equal(badProp.status, 2, badProp.stderr);
    assert.match(badProp.stderr, /is not a known Kafka client property \(did you mean 'sasl\.password'\?\)/);
  });

  it('--help lists the Kafka properties and the exit-code table, for every Kafka command', () => {
    for (const cmd of [['load'], ['derive'], ['tail'], ['demo'], ['topics', 'create'], ['topics', 'list'], ['topics', 'describe'], ['topics', 'delete']]) {
      const r = cli([...cmd, '--help'], { KAFKA_SASL_PASSWORD: 'help-must-not-show-this' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /--kafka-config <file>/, cmd.join(' '));
      assert.match(r.stdout, /sasl\.password +SASL password/, cmd.join(' '));
      assert.match(r.stdout, /Exit status \(the same for every command\):[\s\S]*7 {2}Kafka unreachable/, cmd.join(' '));
      assert.doesNotMatch(r.stdout, /help-must-not-show-this/);
    }
  });
});
