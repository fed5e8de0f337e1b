/**
 * A throw-away local broker for one benchmark run, from the project's dev module: started in a temp dir,
 * stopped (and the dir removed) at the end or on SIGINT/SIGTERM. Logs are kept when the run failed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafkaJars, startKafka, type KafkaHandle } from '../../src/dev/kafka.js';

export interface BenchKafka {
  handle: KafkaHandle;
  kafka: Kafka;
  workDir: string;
  createTopic(topic: string, partitions: number): Promise<void>;
  /** Sum over partitions of (high watermark − low watermark). */
  recordCount(topic: string): Promise<number>;
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

/** Starts the broker and says "broker up in … s at … (work dir …)", followed by `; <detail>` when given. */
export async function startBenchKafka(say: (msg: string) => void, detail?: string): Promise<BenchKafka> {
  const t0 = Date.now();
  await ensureKafkaJars({ onProgress: (m) => say(`kafka: ${m}`) });
  const workDir = mkdtempSync(join(tmpdir(), 'multidispatch-bench-'));
  const handle = await startKafka({ dataDir: join(workDir, 'kafka'), onProgress: (m) => say(`kafka: ${m}`) });
  const kafka = new Kafka({ clientId: 'bench-admin', brokers: [handle.brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  say(`broker up in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${handle.brokers} (work dir ${workDir})${detail ? `; ${detail}` : ''}`);
  let stopped = false;
  return {
    handle,
    kafka,
    workDir,
    async createTopic(topic, partitions) {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
    },
    async recordCount(topic) {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
    },
    async stop(opts = {}) {
      if (stopped) return;
      stopped = true;
      await admin.disconnect().catch(() => undefined);
      await handle.stop({ graceMs: 15_000 });
      if (!opts.keepDir) rmSync(workDir, { recursive: true, force: true });
    },
  };
}
