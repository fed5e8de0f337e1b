import protobuf from 'protobufjs';
import { SchemaError, SchemaLintError } from '../errors.js';
import { makeBundle } from '../schema/bundle.js';
import { schemaFingerprint } from '../schema/fingerprint.js';
import { fileOf, loadProtoDir, protoNameOf } from '../schema/load.js';
import { extractRules, fieldOptions } from '../schema/rules.js';
import type { EventRule, SchemaBundle } from '../schema/types.js';

/** The topic the catalogue lives in unless told otherwise. */
export const DEFAULT_CATALOGUE_TOPIC = 'multidispatch.catalogue';
export const CATALOGUE_FORMAT = 'multidispatch-catalogue/1';

/** One field of a catalogued type, as an analyst reads it. */
export interface CatalogueField {
  number: number;
  /** As written in the .proto file. */
  name: string;
  /** The name in RECORD_CONTENT and in the typed views (protobuf's JSON name, lowerCamelCase). */
  jsonName: string;
  /** `string`, `int64`, or the full name of a message or enum type. */
  type: string;
  label: 'singular' | 'optional' | 'repeated' | 'map';
  /** The oneof it belongs to (not the synthetic one of a proto3 `optional`). */
  oneof?: string;
  /** map<keyType, type> */
  keyType?: string;
  doc: string;
  tag: boolean;
  highCardinality: boolean;
  eventTime: boolean;
  key: boolean;
}

/**
 * One catalogue record: an event type at one schema version, self-contained (its descriptor holds every type it
 * uses, imports included), with the documentation written in the .proto comments.
 */
export interface CatalogueEntry {
  format: typeof CATALOGUE_FORMAT;
  /** Fully qualified event type: `orders.v1.OrderPlaced`. */
  type: string;
  fingerprint: string;
  topic: string;
  /** The dispatch rules, as in a schema bundle (a registry can be built from `rule` and `descriptor` alone). */
  rule: EventRule;
  doc: string;
  fields: CatalogueField[];
  /** The .proto file of the event and of every message and enum it uses, relative to the proto root. */
  files: Record<string, string>;
  /** protobufjs JSON descriptor of the type and everything it uses, with comments. */
  descriptor: protobuf.INamespace;
  owner?: string;
  status: 'active' | 'deprecated';
  /** ISO date (YYYY-MM-DD) the type was deprecated on. */
  deprecatedSince?: string;
  /** When this version was first pushed (ISO-8601); kept when the same version is pushed again. */
  firstPushedAt: string;
}

/** The catalogue record keys of an entry: one per version, and the type's "latest" pointer. */
export function versionKey(type: string, fingerprint: string): string {
  return `${type}@${fingerprint}`;
}

/** The event types of a .proto folder as catalogue entries (not yet pushed: owner, status and time unset). */
export interface BuiltEntries {
  entries: CatalogueEntry[];
  /** Every message under the folder with its file, for naming files in evolution refusals. */
  protoDir: string;
}

/**
 * Loads and lints the protos under `protoDir` (as codegen does) and builds one catalogue entry per event type.
 * Throws SchemaLintError / SchemaError.
 *
 * @example
 * const { entries } = await entriesFromProtos('proto');
 * console.log(entries.map((e) => `${e.type}@${e.fingerprint}`));
 */
export async function entriesFromProtos(protoDir: string): Promise<BuiltEntries> {
  const { root, protoDir: dir, files } = await loadProtoDir(protoDir);
  const { events, problems } = extractRules(root, dir, files);
  if (problems.length > 0) throw new SchemaLintError(problems);
  if (events.length === 0) throw new SchemaError(`no event messages under '${protoDir}': mark messages with option (multidispatch.event) = { topic: "..." }`);
  const entries = events.map((rule) => entryOf(root, dir, rule));
  return { entries, protoDir: dir };
}

function entryOf(root: protobuf.Root, protoDir: string, rule: EventRule): CatalogueEntry {
  return buildEntry(root, rule, {
    fileOf: (t) => fileOf(root.lookup(t.fullName) ?? t, protoDir),
    protoName: protoNameOf,
    highCardinality: (f) => fieldOptions(f).high_cardinality === true,
  });
}

/** What an entry's builder needs to know beyond the descriptor: files, proto names, high-cardinality marks. */
interface SourceInfo {
  fileOf(t: protobuf.Type | protobuf.Enum): string;
  protoName(f: protobuf.Field): string;
  highCardinality(f: protobuf.Field): boolean;
}

function buildEntry(root: protobuf.Root, rule: EventRule, info: SourceInfo): CatalogueEntry {
  const source = root.lookupType(rule.type);
  const bundle = makeBundle(root, [rule]);
  const own = protobuf.Root.fromJSON(bundle.descriptor);
  own.resolveAll();
  const type = own.lookupType(rule.type);
  const files: Record<string, string> = {};
  const visit = (t: protobuf.Type | protobuf.Enum): void => {
    const name = t.fullName.slice(1);
    if (files[name] !== undefined) return;
    files[name] = info.fileOf(t);
    if (t instanceof protobuf.Type) for (const f of t.fieldsArray) if (f.resolvedType) visit(f.resolvedType);
  };
  visit(type);
  const fields: CatalogueField[] = source.fieldsArray
    .slice()
    .sort((a, b) => a.id - b.id)
    .map((f) => {
      f.resolve();
      const synthetic = f.partOf && f.partOf.oneof.length === 1 && f.partOf.name === `_${f.name}`;
      const proto3Optional = f.options?.proto3_optional === true || synthetic;
      const out: CatalogueField = {
        number: f.id,
        name: info.protoName(f),
        jsonName: f.name,
        type: f.resolvedType ? f.resolvedType.fullName.slice(1) : f.type,
        label: f.map ? 'map' : f.repeated ? 'repeated' : proto3Optional ? 'optional' : 'singular',
        doc: cleanDoc(f.comment),
        tag: rule.tags.some((t) => t.field === f.name),
        highCardinality: info.highCardinality(f),
        eventTime: rule.eventTime?.field === f.name,
        key: rule.keyField === f.name,
      };
      if (f.partOf && !proto3Optional) out.oneof = f.partOf.name;
      if (f.map) out.keyType = (f as unknown as protobuf.MapField).keyType;
      return out;
    });
  return {
    format: CATALOGUE_FORMAT,
    type: rule.type,
    fingerprint: schemaFingerprint(type),
    topic: rule.topic,
    rule,
    doc: cleanDoc(source.comment),
    fields,
    files,
    descriptor: bundle.descriptor,
    status: 'active',
    firstPushedAt: '',
  };
}

/**
 * Catalogue entries from a schema bundle (codegen's `schema` export or loadSchema()), for a publisher that pushes its
 * own schemas. A bundle keeps the documentation but not the .proto's own field spelling or its high_cardinality marks:
 * field names are the snake_case of the JSON names (a tag's name as declared), every field is marked not high
 * cardinality, and every type's file is the event's. Pushing from the .proto files (`catalogue push`) records all of it.
 */
export function entriesFromBundle(bundle: SchemaBundle): CatalogueEntry[] {
  const root = protobuf.Root.fromJSON(bundle.descriptor);
  root.resolveAll();
  return bundle.events.map((rule) =>
    buildEntry(root, rule, {
      fileOf: () => rule.file,
      protoName: (f) => rule.tags.find((t) => t.field === f.name)?.protoName ?? f.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      highCardinality: () => false,
    }),
  );
}

function cleanDoc(comment: string | null | undefined): string {
  return (comment ?? '').trim();
}

/** The bundle a registry decodes one catalogue entry with. */
export function bundleOf(entry: CatalogueEntry): SchemaBundle {
  return { version: 1, descriptor: entry.descriptor, events: [entry.rule] };
}

/** The JSON text of an entry as stored in the catalogue topic. */
export function encodeEntry(entry: CatalogueEntry): Buffer {
  return Buffer.from(JSON.stringify(entry));
}

/**
 * Parses a catalogue record value; throws an Error naming what is wrong (the caller adds topic, partition, offset).
 */
export function decodeEntry(value: Buffer | string): CatalogueEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`);
  }
  const e = parsed as Partial<CatalogueEntry> | null;
  if (!e || typeof e !== 'object') throw new Error('not a JSON object');
  if (e.format !== CATALOGUE_FORMAT) throw new Error(`format is ${JSON.stringify(e.format)}, expected '${CATALOGUE_FORMAT}'`);
  for (const k of ['type', 'fingerprint', 'topic', 'firstPushedAt'] as const) if (typeof e[k] !== 'string') throw new Error(`'${k}' is missing or not a string`);
  if (!e.rule || typeof e.rule !== 'object' || !e.descriptor || typeof e.descriptor !== 'object' || !Array.isArray(e.fields)) throw new Error("'rule', 'descriptor' or 'fields' is missing");
  if (e.status !== 'active' && e.status !== 'deprecated') throw new Error(`status is ${JSON.stringify(e.status)}, expected 'active' or 'deprecated'`);
  return e as CatalogueEntry;
}

/** Two entries of the same version that differ in nothing a push would change (docs, rules, owner, status). */
export function sameContent(a: CatalogueEntry, b: CatalogueEntry): boolean {
  const strip = (e: CatalogueEntry) => JSON.stringify({ ...e, firstPushedAt: '' });
  return strip(a) === strip(b);
}
