/**
 * What every Kafka-using command shares: the connection flags (`--brokers`, `--kafka-config`, `-X`), the `--config`
 * JSON file, and the one resolver that merges them (flags > environment > config files > defaults).
 *
 * The `--config` file holds one JSON object:
 *   { "kafka": { "bootstrap.servers": "…", "security.protocol": "SASL_SSL", … },   // Kafka client properties
 *     "kafkaConfig": "client.properties",                                          // or a properties file
 *     "proto": "proto",
 *     "derive": { "definitions": "metrics.mjs", "group": "kitchen" },              // a command's options, by flag name
 *     "tail": { … }, "topics": { … }, "demo": { … },
 *     "load": { … } }                                                             // load: createLoader's names
 * A command reads the top-level keys and its own section; it ignores the sections of other commands.
 */
import { readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import { kafkaPropertiesHelp, resolveKafkaConfig } from '../config/kafka.js';
import { kafkaStatus } from '../dev/kafka.js';
import { defaultDevDir } from '../dev/paths.js';
import { OptionsError, UsageError } from '../errors.js';
import type { KafkaConnectionOptions } from '../kafka/client.js';

export interface KafkaFlags {
  brokers?: string;
  kafkaConfig?: string;
  kafkaProperty?: string[];
  config?: string;
}

/** Sections a config file may hold, one per command, besides the shared keys. */
const SECTIONS = ['load', 'derive', 'tail', 'topics', 'demo', 'query'] as const;
const SHARED = ['kafka', 'kafkaConfig', 'brokers', 'proto'];
/** Keys `load` accepted at the top level before sections existed; still read by load, ignored by the others. */
export const LOAD_TOP_LEVEL_KEYS = [
  'topics', 'topicPattern', 'group', 'warehouse', 'tables', 'topicRenames', 'views', 'batchRecords', 'batchBytes', 'flushMs',
  'errorsTolerance', 'dlqTopic', 'startFrom', 'retryInitialMs', 'retryMaxMs', 'retryTimeoutMs', 'logIntervalMs', 'shutdownTimeoutMs',
  'sessionTimeoutMs', 'commitToKafka', 'snowflake',
];

const configs = new Map<string, Record<string, unknown>>();

/** Reads and checks a `--config` JSON file (cached per path for the process). */
export function readConfigJson(path: string): Record<string, unknown> {
  const cached = configs.get(path);
  if (cached) return cached;
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--config ${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`--config ${path}: not valid JSON (${(err as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`--config ${path}: must hold a JSON object`);
  const cfg = parsed as Record<string, unknown>;
  const known = new Set<string>([...SHARED, ...SECTIONS, ...LOAD_TOP_LEVEL_KEYS]);
  for (const key of Object.keys(cfg)) if (!known.has(key)) throw new OptionsError(`config.${key}`, `is not a known option (in ${path})`);
  for (const key of ['kafka', ...SECTIONS]) {
    const v = cfg[key];
    if (v !== undefined && (!v || typeof v !== 'object' || Array.isArray(v))) throw new OptionsError(`config.${key}`, `must be a JSON object (in ${path})`);
  }
  for (const key of ['kafkaConfig', 'brokers', 'proto']) {
    if (cfg[key] !== undefined && typeof cfg[key] !== 'string') throw new OptionsError(`config.${key}`, `must be a string (in ${path})`);
  }
  configs.set(path, cfg);
  return cfg;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds --brokers, --kafka-config, -X and --config to a command. */
export function addKafkaOptions(cmd: Command, brokersHelp = 'comma-separated host:port (default: $KAFKA_BROKERS, then the `dev up` broker)'): Command {
  return cmd
    .option('-b, --brokers <list>', brokersHelp)
    .option('--kafka-config <file>', 'Kafka client properties file (librdkafka/kcat names: security.protocol, sasl.username, ssl.ca.location, …)')
    .option('-X, --kafka-property <name=value>', 'one Kafka client property, e.g. -X security.protocol=SASL_SSL (repeatable; wins over the file and the environment)', collect)
    .option('--config <file.json>', 'JSON file with the shared settings ("kafka", "kafkaConfig", "proto") and this command\'s options (see docs/operations.md)');
}

/** Help text on how the connection is resolved, appended to each Kafka command's --help. */
export const KAFKA_HELP = `Environment: KAFKA_BROKERS, KAFKA_<PROPERTY> (any property below, upper case, dots as underscores),
MULTIDISPATCH_KAFKA_CONFIG (a properties file), MULTIDISPATCH_DEBUG=1 (print an error's stack).

Kafka connection: -X name=value > --brokers > KAFKA_<NAME> environment (dots as underscores,
e.g. KAFKA_SASL_PASSWORD; KAFKA_BROKERS for the brokers) > --kafka-config file (or $MULTIDISPATCH_KAFKA_CONFIG)
> the --config file's "kafka" object > the broker \`multidispatch dev up\` started. Secrets are never printed.
Properties:
${kafkaPropertiesHelp()}`;

/** The Kafka connection of a command, from its flags, the environment and its config files. */
export function kafkaConnectionFor(flags: KafkaFlags, clientId: string, env: NodeJS.ProcessEnv = process.env): KafkaConnectionOptions {
  const cfg = flags.config ? readConfigJson(flags.config) : undefined;
  const file = flags.kafkaConfig ?? (env.MULTIDISPATCH_KAFKA_CONFIG || undefined) ?? (cfg?.kafkaConfig as string | undefined);
  return resolveKafkaConfig({
    ...(flags.brokers !== undefined ? { brokers: flags.brokers } : {}),
    ...(flags.kafkaProperty ? { overrides: flags.kafkaProperty } : {}),
    env,
    ...(file ? { file } : {}),
    ...(cfg ? { config: { properties: { ...(cfg.brokers ? { 'bootstrap.servers': cfg.brokers } : {}), ...((cfg.kafka as Record<string, unknown>) ?? {}) }, where: flags.config! } } : {}),
    clientId,
    fallbackBrokers: () => {
      const status = kafkaStatus(defaultDevDir(env));
      return status.running && status.state ? status.state.brokers : undefined;
    },
  });
}

function sectionOf(cmd: Command): string {
  let c = cmd;
  while (c.parent && c.parent.parent) c = c.parent;
  return c.name();
}

/**
 * Before a command runs: values from its `--config` file's section (and the shared `proto`/`brokers`) fill the
 * options that neither the command line nor the environment set. A key that is not an option of the command is an
 * error naming it. Load reads its own section itself (createLoader's names) and is skipped here.
 */
export function applyConfigFile(cmd: Command): void {
  const path = cmd.getOptionValue('config') as string | undefined;
  if (!path) return;
  const cfg = readConfigJson(path);
  const section = sectionOf(cmd);
  if (section === 'load') return;
  const byKey = new Map<string, Option>(cmd.options.map((o) => [o.attributeName(), o]));
  const set = (key: string, value: unknown, where: string) => {
    const opt = byKey.get(key);
    if (!opt || key === 'config') {
      // A section shared by subcommands (topics create/list/…) may hold options of the others.
      if (cmd.parent?.parent) return;
      throw new OptionsError(where, `is not an option of \`${cmd.name()}\` (in ${path})`);
    }
    const source = cmd.getOptionValueSource(key);
    if (source === 'cli' || source === 'env') return;
    let v: unknown = value;
    if (typeof v === 'number') v = String(v);
    if (Array.isArray(v)) v = v.map(String);
    if (opt.variadic && typeof v === 'string') v = [v];
    if (typeof v !== 'string' && typeof v !== 'boolean' && !Array.isArray(v)) throw new OptionsError(where, `must be a string, number, boolean or list (in ${path})`);
    cmd.setOptionValueWithSource(key, v, 'config');
  };
  if (typeof cfg.proto === 'string' && byKey.has('proto')) set('proto', cfg.proto, 'config.proto');
  const own = cfg[section] as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(own ?? {})) set(k, v, `config.${section}.${k}`);
}
