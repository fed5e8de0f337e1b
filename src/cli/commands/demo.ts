import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { parseBrokerList } from '../../kafka/client.js';
import { runDemo } from '../../demo/run.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Publish the example ordering flow with one call per event, then read Kafka and StatsD back and compare.')
    .option('-b, --brokers <list>', 'use these brokers instead of starting a local one')
    .option('--orders <count>', 'orders to simulate', '500')
    .option('--seed <n>', 'random seed, for a reproducible run', '7')
    .addHelpText('after', '\nStarts a local Kafka broker (from Maven Central jars) and a real StatsD receiver (statsd_exporter), and stops them at the end.')
    .action(async (flags: { brokers?: string; orders: string; seed: string }) => {
      const orders = Number(flags.orders);
      if (!Number.isInteger(orders) || orders <= 0) throw new UsageError(`--orders must be a positive integer, got '${flags.orders}'`);
      const seed = Number(flags.seed);
      if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got '${flags.seed}'`);
      const summary = await runDemo({ orders, seed, log: (l) => process.stdout.write(`${l}\n`), ...(flags.brokers ? { brokers: parseBrokerList(flags.brokers) } : {}) });
      if (!summary.agree || summary.failed > 0) process.exitCode = 1;
    });
}
