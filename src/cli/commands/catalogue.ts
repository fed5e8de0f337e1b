import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { renderDictionary } from '../../catalogue/html.js';
import { parseOptions } from '../../config/parse.js';
import { EXIT_CODES_HELP, UsageError } from '../../errors.js';
import { entriesFromProtos, DEFAULT_CATALOGUE_TOPIC, type CatalogueEntry, type CatalogueField } from '../../catalogue/entry.js';
import { backupCatalogue, latestEntries, pushCatalogue, readCatalogue, restoreCatalogue, versionsOf, type Catalogue } from '../../catalogue/store.js';
import { createKafkaClient, kafkaConnectionSchema } from '../../kafka/client.js';
import type { KafkaClient } from '../../kafka/port.js';
import { addKafkaOptions, KAFKA_HELP, kafkaConnectionFor, type KafkaFlags } from '../connection.js';

interface CatalogueFlags extends KafkaFlags {
  catalogueTopic: string;
  json?: boolean;
}

/** Runs one catalogue operation, turning client failures into typed errors (unreachable → 7, auth → 4). */
async function withKafka<T>(flags: CatalogueFlags, operation: string, fn: (kafka: KafkaClient) => Promise<T>): Promise<T> {
  const conn = parseOptions(kafkaConnectionSchema, kafkaConnectionFor(flags, 'multidispatch-catalogue'), 'kafka');
  const kafka = createKafkaClient(conn);
  try {
    return await fn(kafka);
  } catch (err) {
    throw kafka.classify(err, { brokers: conn.brokers, mechanism: conn.sasl?.mechanism.toUpperCase(), topics: [flags.catalogueTopic], group: 'multidispatch-catalogue-*', operation });
  }
}

function withTopic(cmd: Command): Command {
  return addKafkaOptions(cmd.option('--catalogue-topic <topic>', 'the compacted topic the catalogue lives in', DEFAULT_CATALOGUE_TOPIC));
}

const ACLS = 'Needs DESCRIBE and READ on the catalogue topic and READ on groups prefixed multidispatch-catalogue-; push and restore also WRITE (and CREATE on the cluster or topic when it does not exist yet).';

function fieldFlags(f: CatalogueField): string {
  return [f.key ? 'key' : '', f.tag ? 'StatsD tag' : '', f.highCardinality ? 'high cardinality: never a tag' : '', f.eventTime ? 'event time' : ''].filter(Boolean).join(', ');
}

function typeText(f: CatalogueField): string {
  if (f.label === 'map') return `map<${f.keyType}, ${f.type}>`;
  return f.label === 'singular' ? f.type : `${f.label} ${f.type}`;
}

/** What changed from one version to the next, in field terms. */
export function versionChanges(before: CatalogueEntry | undefined, after: CatalogueEntry): string {
  if (!before) return 'first version';
  const old = new Map(before.fields.map((f) => [f.number, f]));
  const now = new Map(after.fields.map((f) => [f.number, f]));
  const parts: string[] = [];
  for (const [n, f] of now) if (!old.has(n)) parts.push(`+ ${f.name} (${n})`);
  for (const [n, f] of old) if (!now.has(n)) parts.push(`- ${f.name} (${n})`);
  if (parts.length === 0) parts.push('nested types or options changed');
  return parts.join(', ');
}

function show(catalogue: Catalogue, type: string): string {
  const e = catalogue.entries.get(type);
  if (!e) {
    const known = latestEntries(catalogue).map((x) => x.type);
    throw new UsageError(`event type '${type}' is not in catalogue ${catalogue.topic}${known.length ? ` (it has: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''})` : ' (it is empty)'}`);
  }
  const lines = [
    `${e.type}  (${e.status === 'deprecated' ? `DEPRECATED since ${e.deprecatedSince ?? '?'}` : 'active'})`,
    ...(e.doc ? e.doc.split('\n').map((l) => `  ${l}`) : []),
    '',
    `topic:        ${e.topic}`,
    `key field:    ${e.fields.find((f) => f.key)?.name ?? '(none)'}`,
    `StatsD:       ${e.rule.statsdCounter ? `counter ${e.rule.metricName}, tags ${e.rule.tags.map((t) => t.protoName).join(', ') || '(none)'}` : 'no counter'}`,
    `owner:        ${e.owner ?? '(not set)'}`,
    `file:         ${e.rule.file}`,
    `fingerprint:  ${e.fingerprint} (first pushed ${e.firstPushedAt})`,
    '',
    'fields:',
  ];
  for (const f of e.fields) {
    const flags = fieldFlags(f);
    lines.push(`  ${String(f.number).padStart(3)}  ${f.name}: ${typeText(f)}${f.oneof ? ` (oneof ${f.oneof})` : ''}${flags ? `  [${flags}]` : ''}`);
    if (f.jsonName !== f.name) lines.push(`       column: ${f.jsonName}`);
    for (const l of f.doc ? f.doc.split('\n') : []) lines.push(`       ${l}`);
  }
  const versions = versionsOf(catalogue, type);
  lines.push('', `versions (${versions.length}):`);
  versions.forEach((v, i) => lines.push(`  ${v.fingerprint}  ${v.firstPushedAt}  ${versionChanges(versions[i - 1], v)}${v.fingerprint === e.fingerprint ? '  (latest)' : ''}`));
  return `${lines.join('\n')}\n`;
}

export function registerCatalogue(program: Command): void {
  const cat = program
    .command('catalogue')
    .description('The event catalogue: schemas and their documentation on a compacted Kafka topic, one record per event type version.');

  withTopic(
    cat
      .command('push')
      .description('Publish the event types under --proto as catalogue versions, after checking each change against the latest version catalogued. An unchanged schema writes nothing.')
      .requiredOption('--proto <dir>', 'folder of .proto files'),
  )
    .option('--owner <name>', 'owner written into the versions pushed (kept from the catalogue when left out)')
    .option('--deprecate <type...>', 'mark these event types deprecated as of today')
    .option('--dry-run', 'check and report what would be written; write nothing', false)
    .option('--json', 'print the result as JSON', false)
    .addHelpText('after', `\nA change that breaks an evolution rule (field numbers, names and types fixed; removed fields reserved by number and name; labels, oneofs, json_name, enum values and packages kept) is refused with the file, message, field and rule; nothing is written and the exit status is 3.\n\nExamples:\n  multidispatch catalogue push --proto proto --owner payments-team\n  multidispatch catalogue push --proto proto --dry-run\n  multidispatch catalogue push --proto proto --deprecate orders.v1.OrderRejected\n\n${ACLS}\n\n${KAFKA_HELP}\n\n${EXIT_CODES_HELP}`)
    .action(async (flags: CatalogueFlags & { proto: string; owner?: string; deprecate?: string[]; dryRun: boolean }) => {
      const { entries } = await entriesFromProtos(flags.proto);
      const result = await withKafka(flags, 'write', (kafka) =>
        pushCatalogue(kafka, entries, { topic: flags.catalogueTopic, dryRun: flags.dryRun, ...(flags.owner ? { owner: flags.owner } : {}), ...(flags.deprecate ? { deprecate: flags.deprecate } : {}) }),
      );
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      const verb = flags.dryRun ? 'would write' : 'wrote';
      for (const w of result.written) process.stdout.write(`${verb} ${w.key} (${w.reason})\n`);
      process.stdout.write(`${flags.dryRun ? 'dry run: ' : ''}${result.written.length} record(s) ${verb.replace('would write', 'to write')} to ${flags.catalogueTopic}${result.topicCreated ? ' (topic created, compacted)' : ''}; ${result.unchanged.length} event type(s) unchanged\n`);
    });

  withTopic(cat.command('list').description('List the catalogued event types: latest fingerprint, versions, topic, status and owner.'))
    .option('--json', 'print JSON (the latest entry of each type, descriptor left out)', false)
    .addHelpText('after', `\nExample:\n  multidispatch catalogue list\n\n${ACLS}\n\n${KAFKA_HELP}\n\n${EXIT_CODES_HELP}`)
    .action(async (flags: CatalogueFlags) => {
      const catalogue = await withKafka(flags, 'read', (kafka) => readCatalogue(kafka, flags.catalogueTopic));
      if (!catalogue.exists) throw new UsageError(`catalogue topic ${flags.catalogueTopic} does not exist: push a schema first (multidispatch catalogue push --proto DIR)`);
      const latest = latestEntries(catalogue);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(latest.map(({ descriptor: _d, ...rest }) => ({ ...rest, versions: versionsOf(catalogue, rest.type).length })), null, 2)}\n`);
        return;
      }
      const width = Math.max(4, ...latest.map((e) => e.type.length));
      process.stdout.write(`${'TYPE'.padEnd(width)}  FINGERPRINT       VERSIONS  STATUS      TOPIC  OWNER\n`);
      for (const e of latest) {
        process.stdout.write(`${e.type.padEnd(width)}  ${e.fingerprint}  ${String(versionsOf(catalogue, e.type).length).padStart(8)}  ${(e.status === 'deprecated' ? `deprecated` : 'active').padEnd(10)}  ${e.topic}  ${e.owner ?? ''}\n`);
      }
      for (const u of catalogue.unreadable) process.stderr.write(`warning: key '${u.key}' is not a catalogue entry: ${u.reason}\n`);
    });

  withTopic(cat.command('show').description('Show one event type: its documentation, fields (types, docs, which are StatsD tags and which are high cardinality), topic, owner and versions.').argument('<type>', 'fully qualified event type, e.g. orders.v1.OrderPlaced'))
    .option('--json', 'print the latest entry and its versions as JSON', false)
    .addHelpText('after', `\nExample:\n  multidispatch catalogue show orders.v1.OrderPlaced\n\n${ACLS}\n\n${KAFKA_HELP}\n\n${EXIT_CODES_HELP}`)
    .action(async (type: string, flags: CatalogueFlags) => {
      const catalogue = await withKafka(flags, 'read', (kafka) => readCatalogue(kafka, flags.catalogueTopic));
      if (!catalogue.exists) throw new UsageError(`catalogue topic ${flags.catalogueTopic} does not exist: push a schema first (multidispatch catalogue push --proto DIR)`);
      const text = show(catalogue, type);
      if (flags.json) process.stdout.write(`${JSON.stringify({ latest: catalogue.entries.get(type), versions: versionsOf(catalogue, type).map((v) => ({ fingerprint: v.fingerprint, firstPushedAt: v.firstPushedAt })) }, null, 2)}\n`);
      else process.stdout.write(text);
    });

  withTopic(cat.command('html').description('Write a static, searchable data dictionary of the catalogue (one self-contained index.html) for analysts.').requiredOption('--out <dir>', 'folder to write index.html into (created when missing)'))
    .addHelpText('after', `\nExample:\n  multidispatch catalogue html --out site/events && open site/events/index.html\n\n${ACLS}\n\n${KAFKA_HELP}\n\n${EXIT_CODES_HELP}`)
    .action(async (flags: CatalogueFlags & { out: string }) => {
      const catalogue = await withKafka(flags, 'read', (kafka) => readCatalogue(kafka, flags.catalogueTopic));
      if (!catalogue.exists) throw new UsageError(`catalogue topic ${flags.catalogueTopic} does not exist: push a schema first (multidispatch catalogue push --proto DIR)`);
      const types = latestEntries(catalogue).map((latest) => ({ latest, versions: versionsOf(catalogue, latest.type) }));
      await mkdir(flags.out, { recursive: true });
      const file = join(flags.out, 'index.html');
      await writeFile(file, renderDictionary({ topic: flags.catalogueTopic, generatedAt: new Date().toISOString(), types }));
      process.stdout.write(`wrote ${file} (${types.length} event type(s))\n`);
    });

  withTopic(cat.command('backup').description('Write every live record of the catalogue topic to FILE (portable JSON with a SHA-256 checksum).').argument('<file>', 'the backup file to write'))
    .addHelpText('after', `\nExample:\n  multidispatch catalogue backup catalogue-2026-12-04.json\n\n${ACLS}\n\n${KAFKA_HELP}\n\n${EXIT_CODES_HELP}`)
    .action(async (file: string, flags: CatalogueFlags) => {
      const { records } = await withKafka(flags, 'read', (kafka) => backupCatalogue(kafka, flags.catalogueTopic, file));
      process.stdout.write(`backed up ${records} record(s) of ${flags.catalogueTopic} to ${file}\n`);
    });

  withTopic(cat.command('restore').description('Re-produce a backup into the catalogue topic (created compacted when missing), then read it back and check it equals the backup.').argument('<file>', 'a file written by `catalogue backup`'))
    .option('--replace', 'the topic may hold records: tombstone every key the backup does not hold first', false)
    .addHelpText('after', `\nWithout --replace the topic must be empty (or missing). The checksum is verified before anything is written.\n\nExamples:\n  multidispatch catalogue restore catalogue-2026-12-04.json\n  multidispatch catalogue restore catalogue-2026-12-04.json --replace --catalogue-topic multidispatch.catalogue\n\n${ACLS}\n\n${KAFKA_HELP}\n\n${EXIT_CODES_HELP}`)
    .action(async (file: string, flags: CatalogueFlags & { replace: boolean }) => {
      const r = await withKafka(flags, 'write', (kafka) => restoreCatalogue(kafka, flags.catalogueTopic, file, { replace: flags.replace }));
      process.stdout.write(`restored ${r.restored} record(s) into ${flags.catalogueTopic}${r.tombstoned ? `, tombstoned ${r.tombstoned} key(s) not in the backup` : ''}; read back and verified\n`);
    });
}
