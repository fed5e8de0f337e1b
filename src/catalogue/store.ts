import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type protobuf from 'protobufjs';
import { SchemaLintError, TopologyError, UsageError, type LintProblem } from '../errors.js';
import type { EventSchema, SchemaBundle, UntypedEventMap } from '../schema/types.js';
import type { KafkaClient } from '../kafka/port.js';
import { readFromStart } from '../kafka/topic-reader.js';
import { createTopics, describeTopics } from '../kafka/topics.js';
import { decodeEntry, encodeEntry, sameContent, versionKey, type CatalogueEntry } from './entry.js';
import { checkEvolution, packageRenames } from './evolution.js';

/** What a compacted topic holds now: the latest value of every live key (tombstoned keys left out). */
export interface TopicContents {
  exists: boolean;
  live: Map<string, Buffer>;
  /** Records read (tombstones and overwritten values included). */
  records: number;
}

/**
 * Reads `topic` from its beginning to the end it has now (read_committed) and returns the latest value per key.
 * A record without a key is ignored (a compacted topic refuses them anyway).
 */
export async function readCompacted(kafka: KafkaClient, topic: string): Promise<TopicContents> {
  const admin = kafka.admin();
  await admin.connect();
  let exists: boolean;
  try {
    exists = (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
  const live = new Map<string, Buffer>();
  if (!exists) return { exists, live, records: 0 };
  let records = 0;
  const read = await readFromStart(kafka, { topics: [topic], group: 'multidispatch-catalogue', follow: false }, (batch) => {
    for (const m of batch.messages) {
      records++;
      if (!m.key) continue;
      const key = m.key.toString('utf8');
      if (m.value === null || m.value === undefined) live.delete(key);
      else live.set(key, m.value);
    }
  });
  try {
    await read.caughtUp;
  } finally {
    await read.consumer?.disconnect().catch(() => undefined);
  }
  return { exists, live, records };
}

/** The catalogue as read: every entry by record key, and the records that could not be read as entries. */
export interface Catalogue {
  topic: string;
  exists: boolean;
  /** `<type>` (latest) and `<type>@<fingerprint>` (versions) → entry. */
  entries: Map<string, CatalogueEntry>;
  /** Keys whose value is not a catalogue entry, with the reason. */
  unreadable: Array<{ key: string; reason: string }>;
}

export async function readCatalogue(kafka: KafkaClient, topic: string): Promise<Catalogue> {
  const { exists, live } = await readCompacted(kafka, topic);
  const entries = new Map<string, CatalogueEntry>();
  const unreadable: Catalogue['unreadable'] = [];
  for (const [key, value] of live) {
    try {
      const e = decodeEntry(value);
      const expected = key.includes('@') ? versionKey(e.type, e.fingerprint) : e.type;
      if (key !== expected) throw new Error(`holds ${versionKey(e.type, e.fingerprint)}, which belongs under key '${expected}'`);
      entries.set(key, e);
    } catch (err) {
      unreadable.push({ key, reason: (err as Error).message });
    }
  }
  return { topic, exists, entries, unreadable };
}

/** The latest entry of every type in a catalogue. */
export function latestEntries(catalogue: Catalogue): CatalogueEntry[] {
  return [...catalogue.entries].filter(([k]) => !k.includes('@')).map(([, e]) => e).sort((a, b) => a.type.localeCompare(b.type));
}

/** Every version of one type, oldest first (by first push). */
export function versionsOf(catalogue: Catalogue, type: string): CatalogueEntry[] {
  return [...catalogue.entries]
    .filter(([k]) => k.startsWith(`${type}@`))
    .map(([, e]) => e)
    .sort((a, b) => a.firstPushedAt.localeCompare(b.firstPushedAt) || a.fingerprint.localeCompare(b.fingerprint));
}

/** Creates the catalogue topic (compacted, one partition) when missing; refuses a topic that is not compacted. */
export async function ensureCatalogueTopic(kafka: KafkaClient, topic: string, options: { replicationFactor?: number } = {}): Promise<'created' | 'exists'> {
  const { created } = await createTopics(kafka, [{ topic, partitions: 1, ...(options.replicationFactor ? { replicationFactor: options.replicationFactor } : {}), config: { 'cleanup.policy': 'compact' } }], { ifNotExists: true });
  if (created.includes(topic)) return 'created';
  const [described] = await describeTopics(kafka, [topic]);
  const policy = described?.configs['cleanup.policy'];
  if (!policy || !policy.split(',').includes('compact')) {
    throw new TopologyError(topic, `catalogue topic ${topic} is not compacted (cleanup.policy=${policy ?? 'delete, the broker default'}): a catalogue keeps one record per key; create it with \`multidispatch topics create ${topic} --partitions 1 --cleanup-policy compact\` or use another --catalogue-topic`);
  }
  return 'exists';
}

export interface PushOptions {
  topic: string;
  /** Owner written into every version pushed (kept from the catalogue when not given). */
  owner?: string;
  /** Event types to mark deprecated as of `now` (in this push or already catalogued). */
  deprecate?: string[];
  /** Check and report, write nothing. */
  dryRun?: boolean;
  /** ISO time of the push (default now). */
  now?: string;
  /**
   * Write only versions the catalogue does not hold yet (and point `latest` at them); leave existing versions as they
   * are. For pushes from a publisher's bundle, which knows less than the .proto files (see entriesFromBundle).
   */
  onlyNewVersions?: boolean;
}

export interface PushResult {
  /** Records written (or that would be, with dryRun): key and why. */
  written: Array<{ key: string; reason: 'new version' | 'updated' | 'latest' | 'deprecated' }>;
  /** Event types whose catalogue records already equal what was pushed. */
  unchanged: string[];
  topicCreated: boolean;
}

/**
 * `catalogue push`: checks every entry against the latest version of its type in the catalogue, then writes a
 * version record for each new or changed version and the type's latest record. Idempotent: pushing the same schema
 * again writes nothing. Throws SchemaLintError (every broken rule, nothing written) when a change is incompatible.
 */
export async function pushCatalogue(kafka: KafkaClient, entries: readonly CatalogueEntry[], options: PushOptions): Promise<PushResult> {
  const now = options.now ?? new Date().toISOString();
  const catalogue = await readCatalogue(kafka, options.topic);
  if (catalogue.unreadable.length > 0) {
    throw new UsageError(`catalogue topic ${options.topic} holds records that are not catalogue entries (${catalogue.unreadable.slice(0, 3).map((u) => `key '${u.key}': ${u.reason}`).join('; ')}); is --catalogue-topic right?`);
  }
  const latest = latestEntries(catalogue);
  const problems: LintProblem[] = [];
  for (const e of entries) {
    const prev = catalogue.entries.get(e.type);
    if (prev && prev.fingerprint !== e.fingerprint) problems.push(...checkEvolution(prev, e));
  }
  problems.push(...packageRenames(latest, entries));
  if (problems.length > 0) throw new SchemaLintError(problems);
  const deprecate = new Set(options.deprecate ?? []);
  for (const t of deprecate) {
    if (!entries.some((e) => e.type === t) && !catalogue.entries.has(t)) throw new UsageError(`--deprecate ${t}: no such event type in the push or in catalogue ${options.topic}`);
  }
  const today = now.slice(0, 10);
  const out: Array<{ key: string; value: Buffer }> = [];
  const written: PushResult['written'] = [];
  const unchanged: string[] = [];
  const stamp = (e: CatalogueEntry, prevLatest: CatalogueEntry | undefined, prevVersion: CatalogueEntry | undefined): CatalogueEntry => {
    const next: CatalogueEntry = { ...e, firstPushedAt: prevVersion?.firstPushedAt ?? now, status: prevLatest?.status ?? 'active' };
    delete next.owner;
    delete next.deprecatedSince;
    const owner = options.owner ?? prevVersion?.owner ?? prevLatest?.owner;
    if (owner) next.owner = owner;
    if (deprecate.has(e.type)) {
      next.status = 'deprecated';
      next.deprecatedSince = prevLatest?.status === 'deprecated' && prevLatest.deprecatedSince ? prevLatest.deprecatedSince : today;
    } else if (next.status === 'deprecated' && prevLatest?.deprecatedSince) next.deprecatedSince = prevLatest.deprecatedSince;
    return next;
  };
  for (const e of entries) {
    const prevLatest = catalogue.entries.get(e.type);
    const vKey = versionKey(e.type, e.fingerprint);
    const prevVersion = catalogue.entries.get(vKey);
    if (options.onlyNewVersions && prevVersion) {
      unchanged.push(e.type);
      continue;
    }
    const next = stamp(e, prevLatest, prevVersion);
    let changed = false;
    if (!prevVersion || !sameContent(prevVersion, next) || prevVersion.firstPushedAt !== next.firstPushedAt) {
      out.push({ key: vKey, value: encodeEntry(next) });
      written.push({ key: vKey, reason: prevVersion ? 'updated' : 'new version' });
      changed = true;
    }
    if (!prevLatest || prevLatest.fingerprint !== next.fingerprint || !sameContent(prevLatest, next) || prevLatest.firstPushedAt !== next.firstPushedAt) {
      out.push({ key: e.type, value: encodeEntry(next) });
      written.push({ key: e.type, reason: deprecate.has(e.type) && prevLatest?.status !== 'deprecated' ? 'deprecated' : 'latest' });
      changed = true;
    }
    if (!changed) unchanged.push(e.type);
  }
  // Types deprecated without being in this push: their latest record and its version.
  for (const t of deprecate) {
    if (entries.some((e) => e.type === t)) continue;
    const prev = catalogue.entries.get(t)!;
    if (prev.status === 'deprecated') {
      unchanged.push(t);
      continue;
    }
    const next: CatalogueEntry = { ...prev, status: 'deprecated', deprecatedSince: today };
    out.push({ key: versionKey(t, prev.fingerprint), value: encodeEntry(next) }, { key: t, value: encodeEntry(next) });
    written.push({ key: t, reason: 'deprecated' });
  }
  let topicCreated = false;
  if (!options.dryRun) {
    topicCreated = (await ensureCatalogueTopic(kafka, options.topic)) === 'created';
    if (out.length > 0) await produceAll(kafka, options.topic, out);
  }
  return { written, unchanged, topicCreated };
}

async function produceAll(kafka: KafkaClient, topic: string, records: Array<{ key: string; value: Buffer | null }>): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 500) {
      await producer.send({ topic, acks: -1, messages: records.slice(i, i + 500).map((r) => ({ key: r.key, value: r.value })) });
    }
  } finally {
    await producer.disconnect();
  }
}

export const BACKUP_FORMAT = 'multidispatch-catalogue-backup/1';

/** A backup file: every live record of the topic, with a checksum over keys and values. */
export interface CatalogueBackup {
  format: typeof BACKUP_FORMAT;
  topic: string;
  createdAt: string;
  /** Sorted by key; values base64 (byte-exact, whatever they hold). */
  records: Array<{ key: string; value: string }>;
  /** SHA-256 (hex) of the records as written: key, NUL, value bytes, NUL, for each. */
  sha256: string;
}

function checksum(records: CatalogueBackup['records']): string {
  const h = createHash('sha256');
  for (const r of records) {
    h.update(r.key);
    h.update('\0');
    h.update(Buffer.from(r.value, 'base64'));
    h.update('\0');
  }
  return h.digest('hex');
}

/** `catalogue backup FILE`: writes every live record (atomically: a temporary file renamed into place). */
export async function backupCatalogue(kafka: KafkaClient, topic: string, file: string): Promise<{ records: number }> {
  const { exists, live } = await readCompacted(kafka, topic);
  if (!exists) throw new TopologyError(topic, `catalogue topic ${topic} does not exist: nothing to back up`);
  const records = [...live].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => ({ key, value: value.toString('base64') }));
  const backup: CatalogueBackup = { format: BACKUP_FORMAT, topic, createdAt: new Date().toISOString(), records, sha256: checksum(records) };
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(backup, null, 1)}\n`);
  await rename(tmp, file);
  return { records: records.length };
}

/** Reads and verifies a backup file; throws UsageError naming the file and what is wrong. */
export async function readBackup(file: string): Promise<CatalogueBackup> {
  let parsed: CatalogueBackup;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as CatalogueBackup;
  } catch (err) {
    throw new UsageError(`cannot read catalogue backup ${file}: ${(err as Error).message}`);
  }
  if (parsed?.format !== BACKUP_FORMAT || !Array.isArray(parsed.records)) throw new UsageError(`${file} is not a catalogue backup (expected format '${BACKUP_FORMAT}')`);
  for (const [i, r] of parsed.records.entries()) {
    if (typeof r?.key !== 'string' || typeof r.value !== 'string') throw new UsageError(`${file}: record ${i} has no string key and value`);
  }
  if (checksum(parsed.records) !== parsed.sha256) throw new UsageError(`${file}: checksum mismatch (the file was changed or truncated); nothing restored`);
  return parsed;
}

export interface RestoreResult {
  restored: number;
  tombstoned: number;
}

/**
 * `catalogue restore FILE`: re-produces a backup into `topic`, creating it (compacted) when missing. The topic must
 * hold no live record unless `replace`, which first tombstones every live key the backup does not hold. Afterwards
 * the topic is read back and must hold exactly the backup's keys and values.
 */
export async function restoreCatalogue(kafka: KafkaClient, topic: string, file: string, options: { replace?: boolean } = {}): Promise<RestoreResult> {
  const backup = await readBackup(file);
  await ensureCatalogueTopic(kafka, topic);
  const before = await readCompacted(kafka, topic);
  const wanted = new Map(backup.records.map((r) => [r.key, Buffer.from(r.value, 'base64')]));
  if (before.live.size > 0 && !options.replace) {
    throw new UsageError(`catalogue topic ${topic} is not empty (${before.live.size} live key(s)); restore into an empty topic, or pass --replace to tombstone every key the backup does not hold`);
  }
  const tombstones = [...before.live.keys()].filter((k) => !wanted.has(k)).map((key) => ({ key, value: null }));
  const records = [...tombstones, ...[...wanted].filter(([k, v]) => !before.live.get(k)?.equals(v)).map(([key, value]) => ({ key, value }))];
  if (records.length > 0) await produceAll(kafka, topic, records);
  const after = await readCompacted(kafka, topic);
  const wrong = [...wanted].filter(([k, v]) => !after.live.get(k)?.equals(v)).map(([k]) => k);
  const extra = [...after.live.keys()].filter((k) => !wanted.has(k));
  if (wrong.length > 0 || extra.length > 0) {
    throw new Error(`restore of ${topic} did not verify: ${wrong.length} key(s) differ from the backup (${wrong.slice(0, 3).join(', ')}), ${extra.length} key(s) not in it (${extra.slice(0, 3).join(', ')})`);
  }
  return { restored: wanted.size, tombstoned: tombstones.length };
}

/**
 * One schema made of the latest version of every catalogued event type (their descriptors merged; a message or enum
 * used by several types comes from the most recently pushed of them). Consumers that resolve their definitions once
 * at start (derive) use it: the catalogue only accepts compatible changes, so records written with older versions
 * decode with it.
 *
 * @example
 * const schema = await catalogueSchema(kafka, 'multidispatch.catalogue');
 * const metrics = defineMetrics(schema, definitions);
 */
export async function catalogueSchema(kafka: KafkaClient, topic: string): Promise<EventSchema<UntypedEventMap>> {
  const catalogue = await readCatalogue(kafka, topic);
  if (!catalogue.exists) throw new TopologyError(topic, `catalogue topic ${topic} not found on the cluster: push the schemas first (multidispatch catalogue push --proto DIR)`);
  const latest = latestEntries(catalogue);
  if (latest.length === 0) throw new TopologyError(topic, `catalogue ${topic} holds no event types: push the schemas first (multidispatch catalogue push --proto DIR)`);
  return { bundle: mergeEntries(latest) };
}

/** The bundle of several entries: descriptors merged, the most recently pushed winning where they differ. */
export function mergeEntries(entries: readonly CatalogueEntry[]): SchemaBundle {
  const ordered = [...entries].sort((a, b) => a.firstPushedAt.localeCompare(b.firstPushedAt));
  const descriptor: protobuf.INamespace = { nested: {} };
  const merge = (into: protobuf.INamespace, from: protobuf.INamespace): void => {
    for (const [name, node] of Object.entries(from.nested ?? {})) {
      const isNamespace = !('fields' in node) && !('values' in node);
      into.nested ??= {};
      const existing = into.nested[name];
      if (isNamespace && existing && !('fields' in existing) && !('values' in existing)) merge(existing as protobuf.INamespace, node as protobuf.INamespace);
      else into.nested[name] = isNamespace ? structuredClone(node) : node;
    }
  };
  for (const e of ordered) merge(descriptor, e.descriptor);
  return { version: 1, descriptor, events: ordered.map((e) => e.rule).sort((a, b) => a.type.localeCompare(b.type)) };
}
