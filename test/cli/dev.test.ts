/**
 * `multidispatch dev up|status|down` through the built CLI (bin/multidispatch.js imports dist/, so `npm run build`
 * must have run; `npm test` does that). Starts its own broker in a temp data dir, separate from the suite broker.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { isAlive } from '../../src/dev/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = resolve(root, 'bin/multidispatch.js');

interface Run { code: number; stdout: string; stderr: string }

function cli(args: string[]): Promise<Run> {
  return new Promise((res) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, MULTIDISPATCH_DEV_DIR: '' }, timeout: 240_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

describe('multidispatch dev', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'multidispatch-cli-dev-'));
  before(() => {
    assert.ok(existsSync(resolve(root, 'dist/src/cli/main.js')), 'dist/ is missing: run `npm run build` (npm test does)');
  });
  after(async () => {
    await cli(['dev', 'down', '--data-dir', dataDir]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('up --print-env prints only export KAFKA_BROKERS=host:port, and the broker answers', async () => {
    const up = await cli(['dev', 'up', '--print-env', '--data-dir', dataDir]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /^export KAFKA_BROKERS=127\.0\.0\.1:\d+\n$/);
    assert.match(up.stderr, /Kafka .* is up on/);
    const address = up.stdout.trim().slice('export KAFKA_BROKERS='.length);

    const admin = new Kafka({ clientId: 'cli-test', brokers: [address], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      assert.equal(`${cluster.brokers[0]?.host}:${cluster.brokers[0]?.port}`, address);
    } finally {
      await admin.disconnect();
    }

    const status = await cli(['dev', 'status', '--data-dir', dataDir]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^running$/m);
    assert.match(status.stdout, new RegExp(`brokers:\\s+${address.replace(/\./g, '\\.')}`));
    assert.match(status.stdout, /pid:\s+\d+/);
    assert.match(status.stdout, /version:\s+4\.\d+\.\d+/);

    const json = JSON.parse((await cli(['dev', 'status', '--json', '--data-dir', dataDir])).stdout) as { running: boolean; brokers: string };
    assert.equal(json.running, true);
    assert.equal(json.brokers, address);

    const again = await cli(['dev', 'up', '--print-env', '--data-dir', dataDir]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `export KAFKA_BROKERS=${address}\n`);
    assert.match(again.stderr, /already running/);

    // What the export is for: after eval in a shell, the programs that shell starts see the variable.
    const env: NodeJS.ProcessEnv = { ...process.env, MULTIDISPATCH_DEV_DIR: '' };
    delete env.KAFKA_BROKERS;
    const child = await new Promise<string>((res, rej) => {
      const script = `eval "$("$0" "$1" dev up --print-env --data-dir "$2")" && "$0" -p process.env.KAFKA_BROKERS`;
      execFile('/bin/sh', ['-c', script, process.execPath, bin, dataDir], { env, timeout: 60_000 }, (e, stdout) => (e ? rej(e) : res(stdout)));
    });
    assert.equal(child, `${address}\n`);
  });

  let statsdPid = 0;
  it('up --statsd adds a StatsD receiver: it exports STATSD_HOST/PORT, a publisher started with them is counted there, status shows it', async () => {
    const up = await cli(['dev', 'up', '--statsd', '--print-env', '--data-dir', dataDir]);
    assert.equal(up.code, 0, up.stderr);
    const vars = Object.fromEntries([...up.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    assert.deepEqual(Object.keys(vars).sort(), ['KAFKA_BROKERS', 'STATSD_HOST', 'STATSD_METRICS_URL', 'STATSD_PORT']);
    const topics = await cli(['topics', 'create', 'orders.v1', '--partitions', '1', '--if-not-exists', '--brokers', vars.KAFKA_BROKERS!]);
    assert.equal(topics.code, 0, topics.stderr);
    // A publisher configured with nothing but the exported variables.
    const script = `
      import { createPublisher } from ${JSON.stringify(resolve(root, 'dist/src/index.js'))};
      import { schema } from ${JSON.stringify(resolve(root, 'dist/src/generated/examples.js'))};
      const p = createPublisher({ schema, producer: 'dev-test', kafka: { brokers: [process.env.KAFKA_BROKERS] } });
      await p.publish('orders.v1.PaymentFailed', { orderId: 'o-1', market: 'GB', platform: 'ANDROID', method: 'CARD', errorCode: 'card_declined',
        retryable: false, attempt: 1, amount: { amountMinor: 2599, currency: 'GBP' }, failedAt: new Date() });
      await p.close();`;
    await new Promise<void>((res, rej) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...vars }, timeout: 60_000 }, (e, _o, stderr) => (e ? rej(new Error(stderr)) : res()));
    });
    let text = '';
    for (let i = 0; i < 50 && !/payment_failed\{/.test(text); i++) {
      text = await (await fetch(vars.STATSD_METRICS_URL!)).text();
      if (!/payment_failed\{/.test(text)) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(text, /^payment_failed\{[^}]*market="GB"[^}]*platform="ANDROID"[^}]*\} 1$/m);

    const status = JSON.parse((await cli(['dev', 'status', '--json', '--data-dir', dataDir])).stdout) as { statsd?: { port: number; pid: number } };
    assert.equal(String(status.statsd?.port), vars.STATSD_PORT);
    statsdPid = status.statsd!.pid;
  });

  it('down stops it, status then exits 7 (Kafka unreachable), and a second down is a no-op', async () => {
    const down = await cli(['dev', 'down', '--data-dir', dataDir]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /stopped Kafka/);
    assert.match(down.stderr, /stopped the StatsD receiver/);
    assert.equal(isAlive(statsdPid), false, 'the receiver process is gone (or a zombie awaiting its reaper)');

    const status = await cli(['dev', 'status', '--data-dir', dataDir]);
    assert.equal(status.code, 7);
    assert.match(status.stdout, /^not running$/m);

    const downAgain = await cli(['dev', 'down', '--data-dir', dataDir]);
    assert.equal(downAgain.code, 0);
    assert.match(downAgain.stderr, /nothing was running/);
  });

  it('up on a port that is already in use fails non-zero naming the port', async () => {
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
    const { port } = blocker.address() as AddressInfo;
    const otherDir = mkdtempSync(join(tmpdir(), 'multidispatch-cli-busy-'));
    try {
      const up = await cli(['dev', 'up', '--port', String(port), '--data-dir', otherDir]);
      assert.notEqual(up.code, 0);
      assert.equal(up.code, 8, 'dev environment errors exit 8');
      assert.match(up.stderr, new RegExp(`port ${port}\\b.*already in use`));
      assert.equal(up.stdout, '');
    } finally {
      blocker.close();
      await cli(['dev', 'down', '--data-dir', otherDir]);
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('rejects a malformed --port as a usage error', async () => {
    const up = await cli(['dev', 'up', '--port', 'nope', '--data-dir', dataDir]);
    assert.equal(up.code, 2);
    assert.match(up.stderr, /--port/);
  });
});
