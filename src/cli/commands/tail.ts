import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { createKafkaClient, kafkaConnectionSchema } from '../../kafka/client.js';
import { tailTopic, type RawRecord } from '../../kafka/tail.js';
import { parseOptions } from '../../config/parse.js';
import { HEADER } from '../../schema/envelope.js';
import { loadSchema } from '../../schema/index.js';
import { withBuiltinSchema } from '../../schema/builtin.js';
import { EventRegistry } from '../../schema/registry.js';
import { addKafkaOptions, KAFKA_HELP, kafkaConnectionFor, type KafkaFlags } from '../connection.js';
import { classifyKafkaError } from '../../kafka/errors.js';
import { EXIT_CODES_HELP } from '../../errors.js';
import { DEFAULT_CATALOGUE_TOPIC } from '../../catalogue/entry.js';
import { LiveCatalogue } from '../../catalogue/live.js';

interface TailFlags extends KafkaFlags {
  topic?: string;
  proto: string;
  catalogue?: string | true;
  fromBeginning: boolean;
  max?: string;
  idleExitMs?: string;
  pretty: boolean;
}

/** Where tail finds the schema of a record: a fixed schema, or the catalogue version its fingerprint names. */
export type TailSchemas = EventRegistry | LiveCatalogue;

/** Turns one record into the line tail prints: envelope, position and the decoded event (or why not). */
export function describeRecord(schemas: TailSchemas, r: RawRecord): Record<string, unknown> {
  const type = r.headers[HEADER.eventType];
  const out: Record<string, unknown> = {
    type: type ?? null,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: new Date(Number(r.timestamp)).toISOString(),
    key: r.key?.toString('utf8') ?? null,
    headers: r.headers,
  };
  if (!r.value) out.tombstone = true;
  else if (!type) out.error = `no ${HEADER.eventType} header; value is ${r.value.length} bytes`;
  else {
    const fingerprint = r.headers[HEADER.schemaFingerprint];
    const registry = schemas instanceof LiveCatalogue ? schemas.registryFor(type, fingerprint) : schemas.has(type) ? schemas : undefined;
    if (!registry) {
      out.error =
        schemas instanceof LiveCatalogue
          ? `event type '${type}'${fingerprint ? ` at schema version ${fingerprint}` : ''} is not in catalogue ${schemas.topic}`
          : `event type '${type}' is not in the schema`;
      return out;
    }
    try {
      out.event = registry.decode(type, r.value);
    } catch (err) {
      out.error = `cannot decode as ${type}: ${(err as Error).message}`;
    }
  }
  return out;
}

export function registerTail(program: Command): void {
  const cmd = program
    .command('tail')
    .description('Read a topic and print each record decoded: type, key, partition, offset, headers and the event as JSON.')
    .option('-t, --topic <topic>', 'topic to read (required)');
  addKafkaOptions(cmd)
    .option('--proto <dir>', "folder of .proto files to decode with (derive's metric and alert records are built in)", 'proto')
    .option('--catalogue [topic]', 'decode with the schemas in the event catalogue instead of --proto, each record with the version it was written with (topic, default: multidispatch.catalogue)')
    .option('--from-beginning', 'start at the earliest offset instead of new records only', false)
    .option('-n, --max <count>', 'exit after this many records')
    .option('--idle-exit-ms <ms>', 'exit after this long without a new record')
    .option('--pretty', 'indent the JSON (default: one JSON object per line)', false)
    .addHelpText('after', `\nExamples:\n  multidispatch tail --topic orders.v1 --proto proto --from-beginning --max 10 --pretty\n  multidispatch tail --topic orders.v1 --catalogue --from-beginning --max 10\n  multidispatch tail --topic orders.v1 --kafka-config client.properties -X client.id=oncall\n\nNeeds READ and DESCRIBE on the topic and READ on groups prefixed multidispatch-tail- (see docs/operations.md).\n\n${KAFKA_HELP}\n\n${EXIT_CODES_HELP}`)
    .action(async (flags: TailFlags) => {
      const topic = flags.topic;
      if (!topic) throw new UsageError('missing --topic <topic> (or "topic" in the --config file\'s "tail" object)');
      const max = flags.max === undefined ? undefined : Number(flags.max);
      if (max !== undefined && (!Number.isInteger(max) || max <= 0)) throw new UsageError(`--max must be a positive integer, got '${flags.max}'`);
      const idleMs = flags.idleExitMs === undefined ? undefined : Number(flags.idleExitMs);
      if (idleMs !== undefined && (!Number.isInteger(idleMs) || idleMs <= 0)) throw new UsageError(`--idle-exit-ms must be a positive integer, got '${flags.idleExitMs}'`);
      if (flags.catalogue !== undefined && flags.proto !== 'proto') throw new UsageError('give --proto DIR or --catalogue [topic], not both');
      const conn = parseOptions(kafkaConnectionSchema, kafkaConnectionFor(flags, 'multidispatch-tail'), 'kafka');
      const kafka = createKafkaClient(conn);
      const catalogueTopic = flags.catalogue === undefined ? undefined : typeof flags.catalogue === 'string' ? flags.catalogue : DEFAULT_CATALOGUE_TOPIC;
      let schemas: TailSchemas;
      if (catalogueTopic) {
        try {
          schemas = await LiveCatalogue.open(kafka, { topic: catalogueTopic });
        } catch (err) {
          throw classifyKafkaError(err, { brokers: conn.brokers, mechanism: conn.sasl?.mechanism.toUpperCase(), topics: [catalogueTopic], group: 'multidispatch-catalogue-*', operation: 'read' });
        }
      } else schemas = new EventRegistry(withBuiltinSchema(await loadSchema(flags.proto)));
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const count = await tailTopic(
          kafka,
          { topic: topic, fromBeginning: flags.fromBeginning, signal: abort.signal, ...(max ? { max } : {}), ...(idleMs ? { idleMs } : {}) },
          (r) => process.stdout.write(`${JSON.stringify(describeRecord(schemas, r), null, flags.pretty ? 2 : undefined)}\n`),
        );
        process.stderr.write(`read ${count} record(s) from ${topic}\n`);
      } catch (err) {
        throw classifyKafkaError(err, { brokers: conn.brokers, mechanism: conn.sasl?.mechanism.toUpperCase(), topics: [topic], group: 'multidispatch-tail-*', operation: 'read' });
      } finally {
        if (schemas instanceof LiveCatalogue) await schemas.close();
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
