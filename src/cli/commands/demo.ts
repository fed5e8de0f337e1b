import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { EXIT_CODES_HELP } from '../../errors.js';
import { classifyKafkaError } from '../../kafka/errors.js';
import { addKafkaOptions, KAFKA_HELP, kafkaConnectionFor, type KafkaFlags } from '../connection.js';
import { runDemo } from '../../demo/run.js';

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got '${v}'`);
  return n;
}

export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description(
      'The main job end to end: an ordering service publishes the order flow (with an injected payment incident) to Kafka and StatsD, ' +
        'the loader puts it into DuckDB, the derive consumer computes metrics and alerts; then one report of what each view saw and whether they agree.',
    );
  addKafkaOptions(cmd, 'use this cluster instead of starting a local one (also with --kafka-config or -X bootstrap.servers=…)')
    .option('--orders <count>', 'orders to simulate', '3000')
    .option('--minutes <n>', 'simulated period in minutes; the incident covers its middle', '30')
    .option('--seed <n>', 'random seed, for a reproducible run', '7')
    .option('--out <dir>', 'where the DuckDB file (warehouse.duckdb) and the HTML report (report.html) go', 'multidispatch-demo')
    .addHelpText('after', `\nStarts a local Kafka broker (from Maven Central jars) and a real StatsD receiver (statsd_exporter), and stops them at the end.\nExits 1 when the three views disagree.\n\nExamples:\n  multidispatch demo\n  multidispatch demo --orders 20000 --minutes 60 --seed 3 --out incident-report\n\n${KAFKA_HELP}\n\n${EXIT_CODES_HELP}`)
    .action(async (flags: KafkaFlags & { orders: string; minutes: string; seed: string; out: string }) => {
      const orders = positiveInt('--orders', flags.orders);
      const minutes = positiveInt('--minutes', flags.minutes);
      if (minutes < 6) throw new UsageError(`--minutes must be at least 6 (the incident covers the middle of the period), got ${minutes}`);
      const seed = Number(flags.seed);
      if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got '${flags.seed}'`);
      // An existing cluster only when one is named on the command line or in a config file (KAFKA_BROKERS alone does not
      // divert the demo from its own broker); then its KAFKA_* settings apply too.
      const external = flags.brokers !== undefined || flags.kafkaConfig !== undefined || (flags.kafkaProperty?.length ?? 0) > 0 || flags.config !== undefined;
      const kafka = external ? kafkaConnectionFor(flags, 'multidispatch-demo') : undefined;
      const report = await runDemo({ orders, minutes, seed, outDir: flags.out, log: (l) => process.stdout.write(`${l}\n`), ...(kafka ? { kafka } : {}) }).catch((err: unknown) => {
        throw classifyKafkaError(err, { ...(kafka ? { brokers: kafka.brokers } : {}), mechanism: kafka?.sasl?.mechanism.toUpperCase(), operation: 'create topics, write or read' });
      });
      if (report.agreement.agreeing !== report.agreement.cells || report.publishFailed > 0) process.exitCode = 1;
    });
}
