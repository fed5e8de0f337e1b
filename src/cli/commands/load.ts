import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { DeadLetteredError, EXIT_CODES_HELP, OptionsError, UsageError } from '../../errors.js';
import { createLoader, type LoaderProgress } from '../../loader/loader.js';
import type { LoaderOptions } from '../../loader/options.js';
import { loadSchema } from '../../schema/index.js';
import { cliLogger, drawProgress, endProgress, parseLogFormat } from '../log.js';
import { classifyKafkaError } from '../../kafka/errors.js';
import { addKafkaOptions, KAFKA_HELP, kafkaConnectionFor, LOAD_TOP_LEVEL_KEYS, readConfigJson, type KafkaFlags } from '../connection.js';

interface LoadFlags extends KafkaFlags {
  topic?: string[];
  topicPattern?: string;
  proto: string;
  catalogue?: string | true;
  catalogueWaitMs?: string;
  warehouse?: string;
  group?: string;
  table?: string[];
  topicRename?: string[];
  views: boolean;
  batchRecords?: string;
  batchBytes?: string;
  flushMs?: string;
  errorsTolerance?: 'all' | 'none';
  dlqTopic?: string;
  startFrom?: 'earliest' | 'latest';
  once: boolean;
  logLevel: string;
  logFormat?: string;
  logIntervalMs?: string;
  sessionTimeoutMs?: string;
  progress: boolean;
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  parquetCompression?: 'zstd' | 'snappy' | 'gzip' | 'uncompressed';
}

/** Keys load reads from a config file: createLoader's options without `schema` and `kafka`, plus `snowflake` and `proto`. */
const CONFIG_KEYS = new Set([...LOAD_TOP_LEVEL_KEYS, 'proto']);
const SECRET_KEYS = ['password', 'privateKey', 'privateKeyPassphrase', 'token'];

function int(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

function pairs(flag: string, list: string[] | undefined): Record<string, string> | undefined {
  if (!list) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i <= 0 || i === item.length - 1) throw new UsageError(`${flag} takes NAME=VALUE, got '${item}'`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

export function readConfigFile(path: string): Record<string, unknown> {
  const file = readConfigJson(path);
  // Load's options: the legacy top-level keys, then the "load" section over them. Shared keys (kafka, …) are
  // read by the connection resolver; the other commands' sections are theirs.
  const cfg: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(file)) if (CONFIG_KEYS.has(k)) cfg[k] = v;
  for (const [k, v] of Object.entries((file.load as Record<string, unknown> | undefined) ?? {})) {
    if (!CONFIG_KEYS.has(k)) throw new OptionsError(`config.load.${k}`, `is not a known option (in ${path})`);
    cfg[k] = v;
  }
  const sf = cfg.snowflake;
  if (sf && typeof sf === 'object') {
    for (const k of SECRET_KEYS) {
      if (k in (sf as object)) throw new OptionsError(`config.snowflake.${k}`, 'secrets are read from the environment (SNOWFLAKE_PASSWORD, SNOWFLAKE_PRIVATE_KEY_PATH, …), never from the config file');
    }
  }
  return cfg;
}

/**
 * Merges flags > environment > config file > defaults into createLoader's options. Exported for tests.
 */
export function loaderOptionsFrom(flags: LoadFlags, env: NodeJS.ProcessEnv, cfg: Record<string, unknown>): Omit<LoaderOptions, 'schema'> {
  const opts: Record<string, unknown> = { ...cfg };
  delete opts.snowflake;
  delete opts.proto;
  const set = (key: string, value: unknown) => {
    if (value !== undefined) opts[key] = value;
  };
  set('group', env.MULTIDISPATCH_LOAD_GROUP);
  set('warehouse', env.MULTIDISPATCH_WAREHOUSE);
  if (flags.topic?.length) {
    opts.topics = flags.topic.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
    delete opts.topicPattern;
  }
  if (flags.topicPattern !== undefined) {
    opts.topicPattern = flags.topicPattern;
    if (!flags.topic?.length) delete opts.topics;
  }
  set('group', flags.group);
  set('warehouse', flags.warehouse);
  set('tables', pairs('--table', flags.table) ?? undefined);
  set('topicRenames', pairs('--topic-rename', flags.topicRename) ?? undefined);
  if (flags.views === false) opts.views = false;
  set('batchRecords', int('--batch-records', flags.batchRecords));
  set('batchBytes', int('--batch-bytes', flags.batchBytes));
  set('flushMs', int('--flush-ms', flags.flushMs));
  set('errorsTolerance', flags.errorsTolerance);
  set('dlqTopic', flags.dlqTopic);
  set('startFrom', flags.startFrom);
  set('logIntervalMs', int('--log-interval-ms', flags.logIntervalMs));
  set('sessionTimeoutMs', int('--session-timeout-ms', flags.sessionTimeoutMs));
  if (opts.warehouse === 'snowflake') opts.warehouse = { type: 'snowflake', ...((cfg.snowflake as object) ?? {}) };
  const lakeFlags = flags.s3Endpoint !== undefined || flags.s3Region !== undefined || flags.s3PathStyle !== undefined || flags.parquetCompression !== undefined;
  if (lakeFlags) {
    const w = opts.warehouse;
    const lake = typeof w === 'string' && w.startsWith('lake:') ? { type: 'lake', location: w.slice('lake:'.length) } : w && typeof w === 'object' && (w as { type?: string }).type === 'lake' ? { ...(w as object) } : undefined;
    if (!lake) throw new UsageError('--s3-endpoint, --s3-region, --s3-path-style and --parquet-compression apply to --warehouse lake:DIR or lake:s3://bucket/prefix');
    const l = lake as { type: 'lake'; location: string; s3?: Record<string, unknown>; compression?: string };
    if (flags.s3Endpoint !== undefined || flags.s3Region !== undefined || flags.s3PathStyle !== undefined) {
      if (!l.location.startsWith('s3://')) throw new UsageError(`--s3-* options apply to a lake on S3 (lake:s3://bucket/prefix), not lake:${l.location}`);
      l.s3 = { ...(l.s3 ?? {}), ...(flags.s3Endpoint !== undefined ? { endpoint: flags.s3Endpoint } : {}), ...(flags.s3Region !== undefined ? { region: flags.s3Region } : {}), ...(flags.s3PathStyle !== undefined ? { forcePathStyle: flags.s3PathStyle } : {}) };
    }
    if (flags.parquetCompression !== undefined) l.compression = flags.parquetCompression;
    opts.warehouse = l;
  }
  return { ...(opts as object), kafka: kafkaConnectionFor(flags, 'multidispatch-loader', env) } as Omit<LoaderOptions, 'schema'>;
}

function progressBar(p: LoaderProgress, startedAt: number): string {
  const total = p.total ?? 0;
  const remaining = p.remaining ?? 0;
  const done = Math.max(0, total - remaining);
  const frac = total > 0 ? done / total : 1;
  const width = 28;
  const filled = Math.round(frac * width);
  const rate = (p.rowsLoaded * 1000) / Math.max(1, Date.now() - startedAt);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${done.toLocaleString('en')} / ${total.toLocaleString('en')} records  ${Math.round(rate).toLocaleString('en')} rows/s `;
}

export function registerLoad(program: Command): void {
  const cmd = program
    .command('load')
    .description(
      'Load Kafka topics into the warehouse (a DuckDB file by default, Snowflake, or a Parquet data lake on a file system or S3), exactly once: each batch of rows and the consumed offsets are committed in one warehouse transaction (the lake: files named by their offset range, then a commit marker).',
    )
    .option('-t, --topic <topic...>', 'topic(s) to load (repeat, or comma-separate)')
    .option('--topic-pattern <regex>', 'load every topic matching this regular expression (resolved at start)');
  addKafkaOptions(cmd)
    .option('--proto <dir>', 'folder of .proto files the events were published with', 'proto')
    .option('--catalogue [topic]', 'read the schemas from the event catalogue instead of --proto, following it while loading (topic, default: multidispatch.catalogue)')
    .option('--catalogue-wait-ms <ms>', 'with --catalogue: how long a record whose schema version is not in the catalogue waits for it before it goes to the dead-letter topic (default: 30000)')
    .option(
      '-w, --warehouse <spec>',
      "'duckdb:PATH' (default: duckdb:multidispatch.duckdb, or $MULTIDISPATCH_WAREHOUSE), 'snowflake' (connection from $SNOWFLAKE_* and the config file's \"snowflake\" object), 'lake:DIR' or 'lake:s3://bucket/prefix' (Parquet; docs/lake.md)",
    )
    .option('--s3-endpoint <url>', 'lake on S3: endpoint of an S3-compatible store (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS)')
    .option('--s3-region <region>', 'lake on S3: region (default: $AWS_REGION, else us-east-1)')
    .option('--s3-path-style', 'lake on S3: path-style requests (default: on when an endpoint is given, or $AWS_S3_FORCE_PATH_STYLE)')
    .addOption(new Option('--parquet-compression <codec>', 'lake: Parquet compression (default: zstd)').choices(['zstd', 'snappy', 'gzip', 'uncompressed']))
    .option('-g, --group <id>', 'consumer group; offsets are stored in the warehouse per group (default: multidispatch-loader, or $MULTIDISPATCH_LOAD_GROUP)')
    .option('--table <topic=TABLE...>', 'load a topic into a table of this name instead of the derived one (orders.v1 → ORDERS_V1)')
    .option('--topic-rename <schemaTopic=topic...>', "events of the schema's topic were published to another topic (the publisher's `topics` map)")
    .option('--no-views', 'do not create the typed views (one per event type)')
    .option('--batch-records <n>', 'commit a batch at this many records (default: 10000; lake: 100000)')
    .option('--batch-bytes <n>', 'commit a batch at this many bytes of row JSON (default: 16000000; lake: 128000000)')
    .option('--flush-ms <ms>', 'commit a batch when its oldest record is this old (default: 5000; lake: 60000): a lake file rotates with its batch')
    .addOption(new Option('--errors-tolerance <mode>', "'all': undecodable records go to the dead-letter topic; 'none': stop at the first (default: all)").choices(['all', 'none']))
    .option('--dlq-topic <topic>', 'dead-letter topic (default: multidispatch.dlq)')
    .addOption(new Option('--start-from <where>', 'where a group with nothing in the warehouse starts (default: earliest)').choices(['earliest', 'latest']))
    .option('--once', 'load until caught up with the end offsets seen at start, then exit: 0, or 5 when records went to the dead-letter topic (cron jobs, tests)', false)
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent', 'info')
    .option('--log-format <format>', 'auto (human lines on a terminal, JSON otherwise), pretty or json', 'auto')
    .option('--log-interval-ms <ms>', 'long-running mode: log lag per partition and rows/s this often (default: 30000)')
    .option('--session-timeout-ms <ms>', 'consumer group session timeout: how long a crashed loader holds its partitions (default: 30000)')
    .option('--no-progress', 'no progress bar with --once on a terminal')
    .addHelpText(
      'after',
      `
Options are merged: flags, then environment, then --config (its top-level keys and its "load" object, with
createLoader's names; Snowflake secrets are not allowed there), then defaults.
Environment: KAFKA_BROKERS, MULTIDISPATCH_WAREHOUSE, MULTIDISPATCH_LOAD_GROUP; for Snowflake SNOWFLAKE_ACCOUNT,
SNOWFLAKE_USER, SNOWFLAKE_ROLE, SNOWFLAKE_WAREHOUSE, SNOWFLAKE_DATABASE, SNOWFLAKE_SCHEMA and either
SNOWFLAKE_PRIVATE_KEY_PATH (+ SNOWFLAKE_PRIVATE_KEY_PASSPHRASE) or SNOWFLAKE_PASSWORD; for a lake on S3 the standard
AWS variables and files (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_S3, …).

Examples:
  multidispatch load --topic orders.v1 --warehouse duckdb:events.duckdb --once
  multidispatch load --topic-pattern '^orders\\.' --group analytics-loader
  multidispatch load --topic orders.v1 --catalogue            # schemas from the event catalogue, no .proto on disk
  multidispatch load --topic orders.v1 --warehouse lake:./lake --once
  multidispatch load --topic orders.v1 --warehouse lake:s3://analytics/events --s3-endpoint http://127.0.0.1:9000
  SNOWFLAKE_ACCOUNT=xy12345 SNOWFLAKE_USER=LOADER SNOWFLAKE_PRIVATE_KEY_PATH=rsa_key.p8 \\
    multidispatch load --topic orders.v1 --warehouse snowflake --config loader.json

ACLs it needs (loader principal, group G): READ on the topics, READ on group G, WRITE on the dead-letter topic.

${KAFKA_HELP}

${EXIT_CODES_HELP}`,
    )
    .action(async (flags: LoadFlags) => {
      const cfg = flags.config ? readConfigFile(flags.config) : {};
      if (!flags.topic?.length && flags.topicPattern === undefined && cfg.topics === undefined && cfg.topicPattern === undefined) {
        throw new UsageError('nothing to load: give --topic T (or --topic-pattern REGEX, or "topics" in --config)');
      }
      const options = loaderOptionsFrom(flags, process.env, cfg);
      let source: Pick<LoaderOptions, 'schema' | 'catalogue'>;
      if (flags.catalogue !== undefined) {
        if (flags.proto !== 'proto') throw new UsageError('give --proto DIR or --catalogue [topic], not both');
        const waitMs = int('--catalogue-wait-ms', flags.catalogueWaitMs);
        source = { catalogue: { ...(typeof flags.catalogue === 'string' ? { topic: flags.catalogue } : {}), ...(waitMs !== undefined ? { waitMs } : {}) } };
      } else {
        if (flags.catalogueWaitMs !== undefined) throw new UsageError('--catalogue-wait-ms only applies with --catalogue');
        const protoDir = (typeof cfg.proto === 'string' && flags.proto === 'proto' ? cfg.proto : flags.proto) as string;
        source = { schema: await loadSchema(protoDir) };
      }
      const logger = cliLogger('multidispatch-load', flags.logLevel, parseLogFormat(flags.logFormat));
      const tty = flags.once && flags.progress && process.stderr.isTTY;
      const startedAt = Date.now();
      // Once the run is over, a late progress callback must not draw the bar again under the summary.
      let finished = false;
      const loader = createLoader(
        { ...options, ...source },
        { logger, ...(tty ? { onProgress: (p: LoaderProgress) => void (finished || drawProgress(progressBar(p, startedAt))) } : {}) },
      );
      const stop = (sig: string) => {
        logger.info({ signal: sig }, 'stopping: finishing the open batch');
        void loader.stop();
      };
      const onInt = () => stop('SIGINT');
      const onTerm = () => stop('SIGTERM');
      process.once('SIGINT', onInt);
      process.once('SIGTERM', onTerm);
      try {
        const stats = flags.once ? await loader.runOnce() : await loader.run();
        finished = true;
        endProgress();
        const lake = (loader.warehouseHandle as { stats?: () => { files: number; bytes: number; cleanedFiles: number } } | undefined)?.stats?.();
        process.stdout.write(
          `loaded ${stats.rowsLoaded} row(s) in ${stats.batches} batch(es) into ${loader.warehouseHandle?.description ?? 'the warehouse'}` +
            (lake ? ` (${lake.files} Parquet file(s), ${(lake.bytes / 2 ** 20).toFixed(1)} MiB${lake.cleanedFiles ? `; ${lake.cleanedFiles} file(s) of unfinished batches removed` : ''})` : '') +
            `; ${stats.deadLettered} to the dead-letter topic, ${stats.tombstones} tombstone(s) skipped\n`,
        );
        // A cron job must notice: everything was accounted for, but not everything is in the warehouse.
        if (flags.once && stats.deadLettered > 0) throw new DeadLetteredError(stats.deadLettered, loader.options.dlqTopic);
      } catch (err) {
        const o = options as { topics?: string[]; topicPattern?: string; group?: string; dlqTopic?: string; kafka: { brokers: string[]; sasl?: { mechanism: string } } };
        throw classifyKafkaError(err, {
          brokers: o.kafka.brokers, mechanism: o.kafka.sasl?.mechanism.toUpperCase(), group: o.group ?? 'multidispatch-loader',
          topics: [...(o.topics ?? (o.topicPattern ? [`/${o.topicPattern}/`] : [])), o.dlqTopic ?? 'multidispatch.dlq'], operation: 'read (or write to the dead-letter topic)',
        });
      } finally {
        finished = true;
        endProgress();
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      }
    });
}
