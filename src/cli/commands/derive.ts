import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { defineMetrics, type MetricDefinition, type TableDefinition } from '../../derive/definitions.js';
import { DeriveRunner } from '../../derive/runner.js';
import { isBindHost, PROMETHEUS_HOST_RULE } from '../../derive/options.js';
import { loadSchema, type EventSchema } from '../../schema/index.js';
import { DEFAULT_CATALOGUE_TOPIC } from '../../catalogue/entry.js';
import { catalogueSchema } from '../../catalogue/store.js';
import { parseOptions } from '../../config/parse.js';
import { createKafkaClient, kafkaConnectionSchema } from '../../kafka/client.js';
import { cliLogger, parseLogFormat } from '../log.js';
import { addKafkaOptions, KAFKA_HELP, kafkaConnectionFor, type KafkaFlags } from '../connection.js';
import { classifyKafkaError } from '../../kafka/errors.js';
import { EXIT_CODES_HELP } from '../../errors.js';

interface DeriveFlags extends KafkaFlags {
  definitions?: string;
  proto: string;
  catalogue?: string | true;
  group?: string;
  topicRename?: string[];
  metricsTopic?: string;
  alertsTopic?: string;
  idleMs?: string;
  commitIntervalMs?: string;
  prometheusPort?: string;
  prometheusHost?: string;
  stateDir?: string;
  stateCacheKeys?: string;
  statsd?: string | boolean;
  statsdPrefix?: string;
  logLevel: string;
  logFormat?: string;
}

/** Imports a definitions module: .js/.mjs natively, .ts/.mts through tsx when it is installed. */
async function importDefinitions(file: string): Promise<{ metrics: MetricDefinition[]; tables: TableDefinition[] }> {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`--definitions ${file}: no such file`);
  let mod: { default?: unknown; metrics?: unknown; tables?: unknown };
  let tsImport: ((p: string, from: string) => Promise<unknown>) | undefined;
  if (/\.(c|m)?ts$/.test(path)) {
    try {
      ({ tsImport } = (await import('tsx/esm/api')) as { tsImport: typeof tsImport });
    } catch {
      throw new UsageError(`--definitions ${file}: a TypeScript module needs tsx (npm install --save-dev tsx), or compile it to .js`);
    }
  }
  try {
    mod = (/\.(c|m)?ts$/.test(path) ? await tsImport!(pathToFileURL(path).href, import.meta.url) : await import(pathToFileURL(path).href)) as typeof mod;
  } catch (err) {
    const first = String((err as Error)?.message ?? err).split('\n')[0];
    throw new UsageError(`--definitions ${file} could not be loaded: ${first}`);
  }
  const defs = mod.default ?? mod.metrics;
  if (!Array.isArray(defs)) throw new UsageError(`--definitions ${file}: export the metric definitions as an array (export default [...] or export const metrics = [...])`);
  if (mod.tables !== undefined && !Array.isArray(mod.tables)) throw new UsageError(`--definitions ${file}: 'tables' must be an array of { name, from, global? }`);
  return { metrics: defs as MetricDefinition[], tables: (mod.tables ?? []) as TableDefinition[] };
}

function int(flag: string, v: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max < Number.MAX_SAFE_INTEGER ? `an integer from ${min} to ${max}` : min > 0 ? `a positive integer` : 'a non-negative integer';
    throw new UsageError(`${flag} must be ${range}, got '${v}'`);
  }
  return n;
}

export function registerDerive(program: Command): void {
  const cmd = program
    .command('derive')
    .description('Turn event topics into derived business metrics (windowed counts, sums, ratios, distinct counts, alerts), exactly once, written to a metrics topic.')
    .option('-d, --definitions <file>', 'module exporting the metric definitions (export default [...], and `export const tables = [...]` for joins; .js, .mjs, or .ts with tsx)')
    .option('--proto <dir>', 'folder of .proto files the events were published with', 'proto')
    .option('--catalogue [topic]', 'resolve the definitions against the event catalogue (the latest version of each type, read at start) instead of --proto (topic, default: multidispatch.catalogue)');
  addKafkaOptions(cmd)
    .option('-g, --group <id>', 'consumer group; also names the internal topics <group>-repartition and <group>-changelog (default: multidispatch-derive)')
    .option('--topic-rename <schemaTopic=topic...>', "events of the schema's topic were published to another topic")
    .option('--metrics-topic <topic>', 'where metric values go (default: multidispatch.metrics)')
    .option('--alerts-topic <topic>', 'where alert transitions go (default: multidispatch.alerts)')
    .option('--idle-ms <ms>', 'stream time follows the wall clock after this long without input, so windows close (default: 60000; 0 = never)')
    .option('--commit-interval-ms <ms>', 'how often outputs, state and offsets are committed, > 0 (default: 1000)')
    .option('--state-dir <dir>', 'keep task state on local disk (LMDB) under DIR/<group>: windows are read from it on demand (state larger than memory) and a restart reads only the changelog written since (default: state in memory, rebuilt from the changelog)')
    .option('--state-cache-keys <n>', 'with --state-dir: windows per metric and task kept in memory besides those changed since the last commit (default: 50000)')
    .option('--prometheus-port <port>', 'serve Prometheus /metrics (business metrics and consumer health), /healthz and /readyz on PORT (0: a free one)')
    .option('--prometheus-host <host>', 'address --prometheus-port binds to (default: 127.0.0.1; 0.0.0.0 or :: for every interface)')
    .option('--statsd [host:port]', 'also send committed values to StatsD (gauges for windows, counters for per-event values and alerts); without a value: $STATSD_HOST:$STATSD_PORT (what `dev up --statsd` exports), else 127.0.0.1:8125')
    .option('--statsd-prefix <prefix>', 'prefix for the StatsD metric names, e.g. kitchen.')
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent', 'info')
    .option('--log-format <format>', 'auto (human lines on a terminal, JSON otherwise), pretty or json', 'auto')
    .addHelpText('after', `
Examples:
  multidispatch derive --definitions metrics.mjs --proto proto --group kitchen-metrics
  multidispatch derive --definitions metrics.mjs --catalogue --group kitchen-metrics
  multidispatch derive --config derive.json --kafka-config client.properties

ACLs it needs (principal of the derive job, group G): READ on the input topics and tables, WRITE on the metrics
and alerts topics, ALL on topics prefixed G- (its changelog and repartition topics), READ on group G, WRITE and
DESCRIBE on transactional ids prefixed G-. See docs/operations.md.

${KAFKA_HELP}

${EXIT_CODES_HELP}`)
    .action(async (flags: DeriveFlags) => {
      if (!flags.definitions) throw new UsageError('missing --definitions <file> (or "definitions" in the --config file\'s "derive" object)');
      const idleMs = int('--idle-ms', flags.idleMs);
      const commitIntervalMs = int('--commit-interval-ms', flags.commitIntervalMs, 1);
      const prometheusPort = int('--prometheus-port', flags.prometheusPort, 0, 65535);
      if (flags.prometheusHost !== undefined && !isBindHost(flags.prometheusHost)) throw new UsageError(`--prometheus-host ${PROMETHEUS_HOST_RULE}, got '${flags.prometheusHost}'`);
      if (flags.prometheusHost !== undefined && prometheusPort === undefined) throw new UsageError('--prometheus-host needs --prometheus-port');
      const stateCacheKeys = int('--state-cache-keys', flags.stateCacheKeys, 1);
      if (stateCacheKeys !== undefined && !flags.stateDir) throw new UsageError('--state-cache-keys needs --state-dir (without it every window is in memory)');
      if (flags.catalogue !== undefined && flags.proto !== 'proto') throw new UsageError('give --proto DIR or --catalogue [topic], not both');
      let schema: EventSchema;
      if (flags.catalogue !== undefined) {
        const topic = typeof flags.catalogue === 'string' ? flags.catalogue : DEFAULT_CATALOGUE_TOPIC;
        const connection = parseOptions(kafkaConnectionSchema, kafkaConnectionFor(flags, 'multidispatch-derive'), 'kafka');
        const kafka = createKafkaClient(connection);
        try {
          schema = await catalogueSchema(kafka, topic);
        } catch (err) {
          throw kafka.classify(err, { brokers: connection.brokers, mechanism: connection.sasl?.mechanism.toUpperCase(), topics: [topic], group: 'multidispatch-catalogue-*', operation: 'read' });
        }
      } else schema = await loadSchema(flags.proto);
      const defs = await importDefinitions(flags.definitions);
      const metrics = defineMetrics(schema, defs.metrics, { tables: defs.tables });
      const topicRenames: Record<string, string> = {};
      for (const pair of flags.topicRename ?? []) {
        const i = pair.indexOf('=');
        if (i <= 0) throw new UsageError(`--topic-rename takes NAME=VALUE, got '${pair}'`);
        topicRenames[pair.slice(0, i)] = pair.slice(i + 1);
      }
      const logger = cliLogger('multidispatch-derive', flags.logLevel, parseLogFormat(flags.logFormat));
      let statsd: { host: string; port: number; prefix?: string } | undefined;
      if (flags.statsd !== undefined && flags.statsd !== false) {
        const target = flags.statsd === true ? `${process.env.STATSD_HOST || '127.0.0.1'}:${process.env.STATSD_PORT || '8125'}` : flags.statsd;
        const m = /^([^\s:]+):(\d{1,5})$/.exec(target);
        if (!m) throw new UsageError(`--statsd must be host:port, got '${target}'`);
        statsd = { host: m[1]!, port: Number(m[2]), ...(flags.statsdPrefix ? { prefix: flags.statsdPrefix } : {}) };
      }
      const conn = kafkaConnectionFor(flags, 'multidispatch-derive');
      const runner = new DeriveRunner({
        kafka: conn,
        schema, metrics, topicRenames, logger,
        ...(flags.group ? { group: flags.group } : {}),
        ...(flags.metricsTopic ? { metricsTopic: flags.metricsTopic } : {}),
        ...(flags.alertsTopic ? { alertsTopic: flags.alertsTopic } : {}),
        ...(idleMs !== undefined ? { idleMs } : {}),
        ...(commitIntervalMs !== undefined ? { commitIntervalMs } : {}),
        ...(statsd ? { statsd } : {}),
        ...(prometheusPort !== undefined ? { prometheusPort } : {}),
        ...(flags.prometheusHost !== undefined ? { prometheusHost: flags.prometheusHost } : {}),
        ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
        ...(stateCacheKeys !== undefined ? { stateCacheKeys } : {}),
      });
      const done = new Promise<void>((res, rej) => {
        runner.onFatal = rej;
        const stop = (sig: string) => {
          logger.info({ signal: sig }, 'stopping: committing outputs, state and offsets');
          void runner.stop().then(res, rej);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      const group = runner.group;
      const context = { brokers: conn.brokers, mechanism: conn.sasl?.mechanism.toUpperCase(), group, transactionalId: `${group}-*`,
        topics: [...new Set([...runner.inputTopics, runner.metricsTopic, runner.alertsTopic, `${group}-*`])] };
      try {
        await runner.start();
      } catch (err) {
        throw classifyKafkaError(err, { ...context, operation: 'start (describe, create, read or write)' });
      }
      logger.info({ metrics: metrics.map((m) => m.name), group: runner.group, metricsTopic: runner.metricsTopic, prometheus: runner.prometheusUrl ? `${runner.prometheusUrl}/metrics` : undefined }, 'derive started');
      await done.catch((err: unknown) => {
        throw classifyKafkaError(err, { ...context, operation: 'read, write or commit' });
      });
    });
}
