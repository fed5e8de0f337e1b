/**
 * One measured run of one variant, in its own process (fresh JIT and heap). Started by run.ts with the
 * configuration in BENCH_CONFIG and an IPC channel:
 *   warm-up (same process, same topic) → 'warmed' → parent marks the StatsD counters → 'go' →
 *   timed phase → 'result' → close → exit.
 * CPU is process.cpuUsage() of this process only (all its threads), over the timed phase.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Kafka } from 'kafkajs';
import { Producer as PlatformaticProducer } from '@platformatic/kafka';
// The adapter's own produce-request writer for idempotent sends on @platformatic/kafka (not part of the package's API).
import { BatchProduceWriter } from '../../dist/src/kafka/platformatic/produce.js';
import { percentile, round } from '../lib/stats.js';
import { eventPool } from './events.js';
import { CLIENT_OF, createVariant, type VariantConfig } from './variants.js';
import { send, waitFor } from '../lib/child-ipc.js';

export interface ChildConfig extends VariantConfig {
  n: number;
  warmup: number;
  eldResolutionMs: number;
}

export interface ChildResult {
  variant: string;
  n: number;
  warmup: number;
  elapsedMs: number;
  eventsPerSec: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  cpuUsPerEvent: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Event-loop delay (histogram value minus the sampling interval), ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number; resolutionMs: number };
  /** Produce calls seen by the variant's Kafka client during the timed phase and the records they carried. */
  produceCalls: number;
  recordsPerCall: { mean: number; p50: number; max: number };
  errors: number;
  firstError?: string;
  maxRssMiB: number;
  /** The timed phase in the process' monotonic clock (µs), to cut a --cpu-prof profile to it. */
  windowUs: [number, number];
}

const cfg = JSON.parse(process.env.BENCH_CONFIG ?? '{}') as ChildConfig;

// Count what reaches the variant's Kafka client (one produce request per call here: a single broker). Only that
// client is counted, so a variant that silently ran on the other one shows no produce calls and fails below.
let counting = false;
const callSizes: number[] = [];
const client = CLIENT_OF[cfg.variant];
if (client === 'kafkajs') {
  const originalProducer = Kafka.prototype.producer;
  Kafka.prototype.producer = function (this: Kafka, ...args: Parameters<Kafka['producer']>) {
    const producer = originalProducer.apply(this, args);
    const { send: s, sendBatch: sb } = producer;
    producer.send = (r) => {
      if (counting) callSizes.push(r.messages.length);
      return s(r);
    };
    producer.sendBatch = (r) => {
      if (counting) callSizes.push(r.topicMessages?.reduce((a, t) => a + t.messages.length, 0) ?? 0);
      return sb(r);
    };
    return producer;
  };
} else {
  const proto = PlatformaticProducer.prototype as unknown as { send: (this: unknown, options: { messages: unknown[] }, ...rest: unknown[]) => unknown };
  const originalSend = proto.send;
  proto.send = function (this: unknown, options, ...rest) {
    if (counting) callSizes.push(options.messages.length);
    return originalSend.call(this, options, ...rest);
  };
  // multidispatch's platformatic adapter writes idempotent produce requests itself, over platformatic's connections.
  const writer = BatchProduceWriter.prototype as unknown as { send: (this: unknown, topics: Array<{ messages: unknown[] }>, ...rest: unknown[]) => unknown };
  const originalWrite = writer.send;
  writer.send = function (this: unknown, topics, ...rest) {
    if (counting) callSizes.push(topics.reduce((a, t) => a + t.messages.length, 0));
    return originalWrite.call(this, topics, ...rest);
  };
}

async function main(): Promise<void> {
  const pool = eventPool();
  const variant = await createVariant(cfg, pool);
  await variant.phase(cfg.warmup, 0, undefined);
  await send({ type: 'warmed' });
  await waitFor('go');
  (globalThis as { gc?: () => void }).gc?.();

  const latencies = new Float64Array(cfg.n);
  const eld = monitorEventLoopDelay({ resolution: cfg.eldResolutionMs });
  let maxRss = 0;
  const rssTimer = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage.rss())), 250);
  counting = true;
  eld.enable();
  const hr0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await variant.phase(cfg.n, cfg.warmup, latencies);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const hr1 = process.hrtime.bigint();
  eld.disable();
  counting = false;
  clearInterval(rssTimer);
  maxRss = Math.max(maxRss, process.memoryUsage.rss());

  if (callSizes.length === 0) throw new Error(`no produce call reached ${client} during the timed phase: ${cfg.variant} did not run on the client it names`);
  const sizes = Float64Array.from(callSizes);
  const eldMs = (ns: number) => round(Math.max(0, ns / 1e6 - cfg.eldResolutionMs), 2);
  const result: ChildResult = {
    variant: cfg.variant,
    n: cfg.n,
    warmup: cfg.warmup,
    elapsedMs: round(elapsedMs, 1),
    eventsPerSec: round(cfg.n / (elapsedMs / 1000)),
    cpuUserMs: round(cpu.user / 1000, 1),
    cpuSystemMs: round(cpu.system / 1000, 1),
    cpuUsPerEvent: round((cpu.user + cpu.system) / cfg.n, 2),
    latencyMs: { p50: round(percentile(latencies, 50), 2), p99: round(percentile(latencies, 99), 2), max: round(percentile(latencies, 100), 2) },
    eventLoopDelayMs: { p50: eldMs(eld.percentile(50)), p99: eldMs(eld.percentile(99)), max: eldMs(eld.max), resolutionMs: cfg.eldResolutionMs },
    produceCalls: sizes.length,
    recordsPerCall: {
      mean: round(sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length), 1),
      p50: percentile(sizes, 50),
      max: percentile(sizes, 100),
    },
    errors: variant.errors,
    ...(variant.firstError ? { firstError: variant.firstError } : {}),
    maxRssMiB: round(maxRss / 2 ** 20),
    windowUs: [Number(hr0 / 1000n), Number(hr1 / 1000n)],
  };
  await send({ type: 'result', result });
  await variant.close();
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    await send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }).catch(() => undefined);
    process.exit(1);
  },
);
