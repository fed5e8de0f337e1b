import { Option, type Command } from 'commander';
import type { KafkaClient } from '../../kafka/port.js';
import { parseOptions } from '../../config/parse.js';
import { EXIT_CODES_HELP, UsageError } from '../../errors.js';
import { createKafkaClient, kafkaConnectionSchema } from '../../kafka/client.js';
import { createTopics, deleteTopics, describeTopics, listTopics, type TopicDescription, type TopicSpec } from '../../kafka/topics.js';
import { loadSchema } from '../../schema/index.js';
import { topicsOfSchema } from '../../schema/topics.js';
import { addKafkaOptions, KAFKA_HELP, kafkaConnectionFor, type KafkaFlags } from '../connection.js';

const DEFAULT_PARTITIONS = 6;
type BrokerFlags = KafkaFlags;

interface CreateFlags extends BrokerFlags {
  partitions?: string;
  replicationFactor?: string;
  cleanupPolicy?: string;
  topicConfig?: string[];
  ifNotExists?: boolean;
  fromSchema?: string;
  topicRename?: string[];
}

/** The one place `topics` builds its Kafka client: the shared resolver (flags > KAFKA_* > --kafka-config > --config). */
function kafkaFor(flags: BrokerFlags): { kafka: KafkaClient; brokers: string[]; mechanism: string | undefined } {
  const conn = parseOptions(kafkaConnectionSchema, kafkaConnectionFor(flags, 'multidispatch-topics'), 'kafka');
  return { kafka: createKafkaClient(conn), brokers: conn.brokers, mechanism: conn.sasl?.mechanism.toUpperCase() };
}

/** Runs one admin operation, turning client failures into typed errors (unreachable → 7, auth → 4). */
async function withKafka<T>(flags: BrokerFlags, operation: string, resources: readonly string[], fn: (kafka: KafkaClient) => Promise<T>): Promise<T> {
  const { kafka, brokers, mechanism } = kafkaFor(flags);
  try {
    return await fn(kafka);
  } catch (err) {
    throw kafka.classify(err, { brokers, mechanism, topics: resources, operation });
  }
}

function positiveInt(flag: string, value: string | undefined, max = 2_147_483_647): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}, got '${value}'`);
  return n;
}

function topicConfig(flags: CreateFlags): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of flags.topicConfig ?? []) {
    const i = item.indexOf('=');
    if (i <= 0 || i === item.length - 1) throw new UsageError(`--topic-config takes name=value, got '${item}'`);
    out[item.slice(0, i).trim()] = item.slice(i + 1).trim();
  }
  if (flags.cleanupPolicy !== undefined) {
    if (out['cleanup.policy'] !== undefined && out['cleanup.policy'] !== flags.cleanupPolicy) {
      throw new UsageError(`--cleanup-policy ${flags.cleanupPolicy} and --topic-config cleanup.policy=${out['cleanup.policy']} disagree`);
    }
    out['cleanup.policy'] = flags.cleanupPolicy;
  }
  return out;
}

function renames(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of list ?? []) {
    const i = pair.indexOf('=');
    if (i <= 0 || i === pair.length - 1) throw new UsageError(`--topic-rename takes schemaTopic=topic, got '${pair}'`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

const plural = (n: number): string => `${n} partition${n === 1 ? '' : 's'}`;

async function runCreate(topics: string[], flags: CreateFlags): Promise<void> {
  if (flags.fromSchema !== undefined && topics.length > 0) throw new UsageError('give topic names or --from-schema DIR, not both');
  if (flags.fromSchema === undefined && topics.length === 0) throw new UsageError('nothing to create: give topic names, or --from-schema DIR');
  if (flags.fromSchema === undefined && flags.topicRename?.length) throw new UsageError('--topic-rename only applies with --from-schema');
  const partitions = positiveInt('--partitions', flags.partitions);
  const replicationFactor = positiveInt('--replication-factor', flags.replicationFactor, 32_767);
  const config = topicConfig(flags);
  const base = { ...(replicationFactor ? { replicationFactor } : {}), ...(Object.keys(config).length ? { config } : {}) };

  let specs: TopicSpec[];
  let wanted: Map<string, { partitions: number; why: string }> | undefined;
  if (flags.fromSchema !== undefined) {
    const schema = await loadSchema(flags.fromSchema);
    const plan = topicsOfSchema(schema.bundle, { defaultPartitions: partitions ?? DEFAULT_PARTITIONS, renames: renames(flags.topicRename) });
    specs = plan.map((p) => ({ topic: p.topic, partitions: p.partitions, ...base }));
    wanted = new Map(plan.map((p) => [p.topic, { partitions: p.partitions, why: p.partitionsFrom === 'schema' ? 'the schema declares' : partitions === undefined ? 'the default (--partitions) is' : '--partitions is' }]));
  } else {
    const unique = [...new Set(topics)];
    specs = unique.map((topic) => ({ topic, partitions: partitions ?? DEFAULT_PARTITIONS, ...base }));
    // Without an explicit --partitions there is no wish to compare an existing topic against.
    if (partitions !== undefined) wanted = new Map(unique.map((t) => [t, { partitions, why: '--partitions is' }]));
  }

  const ifNotExists = flags.ifNotExists === true || flags.fromSchema !== undefined;
  const result = await withKafka(flags, 'create', specs.map((s) => s.topic), (kafka) => createTopics(kafka, specs, { ifNotExists }));
  const created = new Set(result.created);
  for (const s of specs) if (created.has(s.topic)) process.stdout.write(`created ${s.topic} (${plural(s.partitions)})\n`);
  for (const e of result.existing) {
    process.stdout.write(`exists  ${e.topic} (${plural(e.partitions)})\n`);
    const want = wanted?.get(e.topic);
    if (want && want.partitions !== e.partitions) {
      process.stderr.write(`warning: ${e.topic} has ${plural(e.partitions)} but ${want.why} ${want.partitions}; left unchanged (partition counts are not changed by this command)\n`);
    }
  }
  process.stderr.write(`${result.created.length} created, ${result.existing.length} already existed\n`);
}

function printDescription(d: TopicDescription): void {
  const configs = Object.entries(d.configs).map(([k, v]) => `${k}=${v}`);
  const lines = [
    `${d.topic}  partitions: ${d.partitions.length}  replication factor: ${d.replicationFactor}`,
    `  configs: ${configs.length ? configs.join(', ') : '(none set on the topic; broker defaults apply)'}`,
    ...d.partitions.map((p) => `  partition ${p.partition}  leader: ${p.leader}  replicas: ${p.replicas.join(',')}  isr: ${p.isr.join(',')}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const help = (examples: string): string => `\nExamples:\n${examples}\n\n${KAFKA_HELP}\n\n${EXIT_CODES_HELP}`;

export function registerTopics(program: Command): void {
  const topics = program
    .command('topics')
    .description('Create, list, describe and delete Kafka topics; create every topic a schema names.')
    .addHelpText('after', help('  multidispatch topics create --from-schema proto\n  multidispatch topics list\n  multidispatch topics describe orders.v1'));

  addKafkaOptions(topics
    .command('create')
    .description('Create topics and wait for their leaders. With --from-schema, create every topic the .proto files name (existing ones are reported, never changed).')
    .argument('[topic...]', 'topics to create')
    .option('--from-schema <protoDir>', 'create one topic per distinct (multidispatch.event).topic under this folder; idempotent')
    .option('-p, --partitions <n>', `partitions per topic (default: ${DEFAULT_PARTITIONS}; with --from-schema, for topics whose events declare no partitions)`)
    .option('-r, --replication-factor <n>', "replicas per partition (default: the broker's default.replication.factor)")
    .addOption(new Option('--cleanup-policy <policy>', 'cleanup.policy of the new topics').choices(['delete', 'compact', 'compact,delete']))
    .option('--topic-config <name=value...>', 'a topic config by its Kafka name, e.g. retention.ms=604800000 (repeatable)')
    .option('--if-not-exists', 'report and skip topics that exist (without it, an existing topic is an error and nothing is created)')
    .option('--topic-rename <schemaTopic=topic...>', "with --from-schema: create this topic instead of the schema's (as load/derive's --topic-rename)")
  )
    .addHelpText(
      'after',
      help(
        [
          '  multidispatch topics create orders.v1 --partitions 12',
          '  multidispatch topics create restaurants.v1 --cleanup-policy compact --topic-config min.compaction.lag.ms=60000 --if-not-exists',
          '  multidispatch topics create --from-schema proto --partitions 3 --topic-rename orders.v1=staging.orders.v1',
        ].join('\n'),
      ),
    )
    .action(runCreate);

  addKafkaOptions(topics
    .command('list')
    .description('List topics with their partition count and replication factor.')
    .option('--internal', 'include internal topics (names starting with __)')
    .option('--json', 'print a JSON array instead of a table')
  )
    .addHelpText('after', help('  multidispatch topics list\n  multidispatch topics list --internal --json'))
    .action(async (flags: BrokerFlags & { internal?: boolean; json?: boolean }) => {
      const rows = await withKafka(flags, 'describe', [], (kafka) => listTopics(kafka, { internal: flags.internal === true }));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const width = Math.max(5, ...rows.map((r) => r.topic.length));
      process.stdout.write(`${'TOPIC'.padEnd(width)}  PARTITIONS  REPLICATION\n`);
      for (const r of rows) process.stdout.write(`${r.topic.padEnd(width)}  ${String(r.partitions).padStart(10)}  ${String(r.replicationFactor).padStart(11)}\n`);
    });

  addKafkaOptions(topics
    .command('describe')
    .description('Show partitions (leader, replicas, in-sync replicas) and the configs set on each topic (cleanup.policy, retention.ms, …).')
    .argument('<topic...>', 'topics to describe')
    .option('--json', 'print a JSON array')
  )
    .addHelpText('after', help('  multidispatch topics describe orders.v1\n  multidispatch topics describe orders.v1 restaurants.v1 --json'))
    .action(async (names: string[], flags: BrokerFlags & { json?: boolean }) => {
      const described = await withKafka(flags, 'describe', names, (kafka) => describeTopics(kafka, [...new Set(names)]));
      if (flags.json) process.stdout.write(`${JSON.stringify(described, null, 2)}\n`);
      else described.forEach(printDescription);
    });

  addKafkaOptions(topics
    .command('delete')
    .description('Delete topics and every record in them. Refuses without --yes.')
    .argument('<topic...>', 'topics to delete')
    .option('--yes', 'really delete')
  )
    .addHelpText('after', help('  multidispatch topics delete staging.orders.v1 --yes'))
    .action(async (names: string[], flags: BrokerFlags & { yes?: boolean }) => {
      const unique = [...new Set(names)];
      if (!flags.yes) throw new UsageError(`would delete topic(s) ${unique.join(', ')} and all their records; pass --yes to do it`);
      await withKafka(flags, 'delete', unique, (kafka) => deleteTopics(kafka, unique));
      for (const t of unique) process.stdout.write(`deleted ${t}\n`);
    });
}
