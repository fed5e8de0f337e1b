import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { createPublisher, type PublishReceipt } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { brokers, type Cleanup } from './kafka.js';
import { orderPlaced, paymentFailed } from './events.js';

/** A temp dir removed after the test. */
export function tempDir(t: Cleanup, prefix = 'md-loader-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pino logger whose JSON lines are kept in `lines` (and not printed). */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

export interface Sent {
  type: string;
  event: Record<string, unknown>;
  receipt: PublishReceipt;
}

/** Publishes `n` events of three types, round robin, to `topic` with the real publisher; returns what was sent. */
export async function publishMixed(topic: string, n: number): Promise<Sent[]> {
  const publisher = createPublisher({ schema, producer: 'loader-test', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
  const sent: Sent[] = [];
  try {
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < n; i++) {
      const pick = i % 3;
      const type = pick === 0 ? 'orders.v1.OrderPlaced' : pick === 1 ? 'orders.v1.PaymentFailed' : 'orders.v1.OrderRejected';
      const event = (
        pick === 0
          ? orderPlaced()
          : pick === 1
            ? paymentFailed({ platform: i % 2 ? 'ANDROID' : 'WEB' })
            : { orderId: `r-${i}`, restaurantId: `rest-${i % 5}`, market: 'AE', aggregator: 'talabat', reason: 'TOO_BUSY', rejectedAt: new Date(Date.UTC(2026, 10, 23, 12, 5, 0, i % 1000)) }
      ) as unknown as Record<string, unknown>;
      pending.push(publisher.publish(type as 'orders.v1.OrderPlaced', event as never).then((receipt) => void sent.push({ type, event, receipt })));
      if (pending.length >= 5000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    await publisher.flush();
  } finally {
    await publisher.close();
  }
  return sent;
}

const root = resolve(import.meta.dirname, '../..');

/**
 * Runs `multidispatch load` as a child process (JSON logs at debug level). With `kill`, sends SIGKILL
 * `jitterMs` after the n-th committed batch (0: once the partitions are assigned).
 */
export function runLoad(
  args: string[],
  env: Record<string, string> = {},
  kill?: { afterCommits: number; jitterMs: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string; commits: number }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(root, 'bin/multidispatch.js'), 'load', ...args, '--log-level', 'debug', '--log-format', 'json'], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: brokers().join(','), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    let commits = 0;
    let armed = false;
    const arm = () => {
      if (armed || !kill) return;
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), kill.jitterMs);
    };
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      for (const line of String(d).split('\n')) {
        if (line.includes('"batch committed"')) commits++;
        if (kill && kill.afterCommits === 0 && line.includes('"partitions assigned"')) arm();
        if (kill && kill.afterCommits > 0 && commits >= kill.afterCommits) arm();
      }
    });
    child.stdout.on('data', (d) => (stdout += d));
    child.on('error', rej);
    child.on('exit', (code, signal) => res({ code, signal, stderr, stdout, commits }));
  });
}
