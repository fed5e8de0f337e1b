/**
 * Lake tests: events of every field kind (test/fixtures/protos/lake), publishing them, reading a lake back with DuckDB
 * and with pyarrow (an independent Parquet reader, from PyPI, in the fakesnow venv), and comparing field by field.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import protobuf from 'protobufjs';
import { createPublisher, type PublishReceipt } from '../../src/index.js';
import { loadSchema } from '../../src/schema/index.js';
import { EventRegistry } from '../../src/schema/registry.js';
import { parseDataName } from '../../src/warehouse/lake/layout.js';
import type { EventSchema } from '../../src/schema/types.js';
import { fakesnowPython } from './fakesnow.js';
import { brokers } from './kafka.js';

const here = dirname(fileURLToPath(import.meta.url));
export const LAKE_PROTO_DIR = join(here, '..', 'fixtures', 'protos', 'lake');
const READER = join(here, 'read_lake.py');

export async function lakeSchema(): Promise<EventSchema> {
  return loadSchema(LAKE_PROTO_DIR);
}

export interface LakeSent {
  type: string;
  event: Record<string, unknown>;
  receipt: PublishReceipt;
}

const HOUR = 3_600_000;
const BASE = Date.UTC(2026, 11, 4, 8, 0, 0);
const UNICODE = ['naïve café', '日本語のテキスト', 'emoji 🚀🍕', 'Ωmega ∑ ≠ ∞', 'quote " back\\slash', 'new\nline\ttab', ''];

/** The i-th event of the lake mix: Reading, Visit and Alert in turn, spread over four hours of occurred-at. */
export function lakeEvent(i: number): [string, Record<string, unknown>] {
  const at = new Date(BASE + (i % 4) * HOUR + (i % 3600) * 1000 + (i % 1000));
  switch (i % 3) {
    case 0: {
      const extreme = i % 4;
      const big = extreme === 0 ? '9223372036854775807' : extreme === 1 ? '-9223372036854775808' : String(BigInt(i) * 1_000_000_007n);
      const e: Record<string, unknown> = {
        id: `r-${i}`,
        big,
        ubig: extreme === 0 ? '18446744073709551615' : String(i),
        zig: extreme === 1 ? '-9223372036854775808' : String(-i),
        small: extreme === 0 ? 2147483647 : extreme === 1 ? -2147483648 : i,
        usmall: extreme === 0 ? 4294967295 : i,
        ratio: i / 7,
        f: 1.5 + (i % 10),
        flag: i % 2 === 0,
        text: `${UNICODE[i % UNICODE.length]} #${i}`,
        blob: Buffer.from(`bytes-${i}-\u0000\u00ff`, 'latin1'),
        level: i % 3 === 0 ? 'HIGH' : 'LOW',
        where: { lat: 51.5 + i / 1e6, lon: -0.12, label: UNICODE[(i + 1) % UNICODE.length] },
        lines: Array.from({ length: i % 4 }, (_, k) => ({ sku: `sku-${k}`, qty: k + 1, priceMinor: String(100 * k + i), addedAt: new Date(at.getTime() - k * 1000), notes: k % 2 ? ['a', 'β'] : [] })),
        counts: i % 5 === 0 ? [] : ['1', '-9223372036854775808', String(i)],
        totals: i % 6 === 0 ? {} : { gbp: String(i), eur: '9223372036854775807' },
        places: { home: { lat: 1, lon: 2, label: 'ħome' } },
        at,
        chunks: [Buffer.from([0, 1, 2, i % 256]), Buffer.from('x')],
      };
      if (i % 2 === 0) e.word = `w${i}`;
      else e.number = String(i);
      return ['lake.v1.Reading', e];
    }
    case 1:
      return ['lake.v1.Visit', { userId: `user-${i % 1009}`, page: `/p/${i % 50}/ü`, durationMs: i % 60_000, visitedAt: at }];
    default:
      return ['lake.v1.Alert', { rule: `rule-${i % 17}`, level: 'HIGH', value: String(-i), firedAt: at }];
  }
}

/** Publishes events to `topic` (the schema's lake.v1 renamed) with the real publisher; returns what was sent. */
export async function publishLake(schema: EventSchema, topic: string, events: Array<[string, Record<string, unknown>]>, producer = 'lake-test'): Promise<LakeSent[]> {
  const publisher = createPublisher({ schema, producer, kafka: { brokers: brokers() }, statsd: false, topics: { 'lake.v1': topic } });
  const sent: LakeSent[] = [];
  try {
    const pending: Array<Promise<void>> = [];
    for (const [type, event] of events) {
      pending.push(publisher.publish(type as never, event as never).then((receipt) => void sent.push({ type, event, receipt })));
      if (pending.length >= 5000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    await publisher.flush();
  } finally {
    await publisher.close();
  }
  return sent;
}

/** A row read back: column → value in the plain form (ints as strings, bytes base64, times ISO, maps as objects). */
export type PlainRow = Record<string, unknown>;

export interface FileFact {
  file: string;
  rows: number;
  rowGroups: number;
  compression: string | null;
}

/** Reads the lake with pyarrow: rows of every event type (with the hive columns) and per-file facts. */
export function readWithPyarrow(where: string, env: Record<string, string> = {}, endpoint?: string): { rows: PlainRow[]; files: FileFact[] } {
  const python = fakesnowPython();
  const args = [READER, where, ...(endpoint ? ['--endpoint', endpoint] : [])];
  const r = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 180_000, env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', ...env } });
  if (r.status !== 0) throw new Error(`pyarrow reader failed (${r.status}): ${r.stderr}`);
  const rows: PlainRow[] = [];
  const files: FileFact[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const o = JSON.parse(line) as Record<string, unknown>;
    if (typeof o.__file === 'string') files.push({ file: o.__file, rows: Number(o.rows), rowGroups: Number(o.row_groups), compression: (o.compression as string) ?? null });
    else {
      delete o.__file;
      rows.push(o);
    }
  }
  return { rows, files };
}

/** Reads one event type's rows with DuckDB's union-by-name hive read of the whole lake directory, in the plain form. */
export async function readWithDuckDb(dir: string, eventType?: string): Promise<PlainRow[]> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    const where = eventType ? ` WHERE event_type = '${eventType.replace(/'/g, "''")}'` : '';
    const r = await c.runAndReadAll(`SELECT * FROM read_parquet('${dir.replace(/'/g, "''")}/**/*.parquet', hive_partitioning = true, union_by_name = true)${where}`);
    return r.getRowObjectsJS().map((row) => plainOf(row) as PlainRow);
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

/** DuckDB's JS values → the plain form. */
export function plainOf(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint' || typeof v === 'number') return typeof v === 'number' && !Number.isInteger(v) ? v : String(v);
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) {
    // DuckDB gives a MAP as [{ key, value }, …]
    if (v.length > 0 && v.every((e) => e && typeof e === 'object' && !Array.isArray(e) && Object.keys(e).length === 2 && 'key' in e && 'value' in e)) {
      return Object.fromEntries(v.map((e: { key: unknown; value: unknown }) => [String(e.key), plainOf(e.value)]));
    }
    return v.map(plainOf);
  }
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, plainOf(x)]));
  return String(v);
}

/**
 * Asserts that a lake row carries every field of the published event, typed: the expected side is the event as
 * the registry decodes its bytes (protobuf JSON), the actual side the plain form of the row.
 */
export function assertRowMatches(registry: EventRegistry, s: LakeSent, row: PlainRow, reader: string): void {
  const { type } = registry.lookup(s.type);
  const expected = registry.decode(s.type, registry.encode(s.type, s.event).bytes) as Record<string, unknown>;
  const where = `${reader}: ${s.type} ${s.receipt.eventId}`;
  for (const f of type.fieldsArray) compareField(f, expected[f.name], row[f.name], `${where} .${f.name}`);
  assert.equal(row._event_id, s.receipt.eventId, `${where} _event_id`);
  assert.equal(String(row._partition), String(s.receipt.partition), `${where} _partition`);
  assert.equal(String(row._offset), s.receipt.offset, `${where} _offset`);
  assert.equal(row._event_type, s.type, `${where} _event_type`);
  assert.equal(Date.parse(String(row._occurred_at)), s.receipt.occurredAt.getTime(), `${where} _occurred_at`);
  assert.equal(row._producer, 'lake-test', `${where} _producer`);
  assert.equal(row._schema_fingerprint, registry.lookup(s.type).fingerprint, `${where} _schema_fingerprint`);
  assert.equal((row._headers as Record<string, string>)['md-event-id'], s.receipt.eventId, `${where} _headers`);
  const iso = s.receipt.occurredAt.toISOString();
  assert.equal(String(row.date).slice(0, 10), iso.slice(0, 10), `${where} date=`);
  assert.equal(Number(row.hour), Number(iso.slice(11, 13)), `${where} hour=`);
}

function compareField(f: protobuf.Field, expected: unknown, actual: unknown, at: string): void {
  f.resolve();
  if (f instanceof protobuf.MapField) {
    const e = (expected ?? {}) as Record<string, unknown>;
    const a = (actual ?? {}) as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${at} map keys`);
    for (const k of Object.keys(e)) compareValue(f, e[k], a[k], `${at}[${k}]`);
    return;
  }
  if (f.repeated) {
    const e = (expected ?? []) as unknown[];
    const a = (actual ?? []) as unknown[];
    assert.equal(a.length, e.length, `${at} length`);
    e.forEach((x, i) => compareValue(f, x, a[i], `${at}[${i}]`));
    return;
  }
  compareValue(f, expected, actual, at);
}

function compareValue(f: protobuf.Field, expected: unknown, actual: unknown, at: string): void {
  if (expected === undefined || expected === null) {
    assert.equal(actual ?? null, null, `${at}: expected null`);
    return;
  }
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) {
    if (rt.fullName === '.google.protobuf.Timestamp') {
      // Parquet keeps microseconds.
      assert.equal(Date.parse(String(actual)), Date.parse(String(expected)), `${at} timestamp`);
      return;
    }
    assert.ok(actual && typeof actual === 'object', `${at}: a struct, got ${JSON.stringify(actual)}`);
    for (const sub of rt.fieldsArray) compareField(sub, (expected as Record<string, unknown>)[sub.name], (actual as Record<string, unknown>)[sub.name], `${at}.${sub.name}`);
    return;
  }
  if (rt instanceof protobuf.Enum) {
    assert.equal(actual, expected, `${at} enum`);
    return;
  }
  switch (f.type) {
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
    case 'int32':
    case 'uint32':
    case 'sint32':
    case 'fixed32':
    case 'sfixed32':
      assert.equal(String(actual), String(BigInt(expected as string | number)), `${at} integer`);
      return;
    case 'float':
      assert.equal(Math.fround(Number(actual)), Math.fround(Number(expected)), `${at} float`);
      return;
    case 'double':
      assert.equal(Number(actual), Number(expected), `${at} double`);
      return;
    default:
      assert.equal(actual, expected, `${at} ${f.type}`);
  }
}

export function registryOf(schema: EventSchema): EventRegistry {
  return new EventRegistry(schema);
}

/** Every Parquet file under `dir` with its partition and offset range, and the rows DuckDB reads from it. */
export async function filesWithOffsets(dir: string): Promise<Array<{ file: string; partition: number; first: bigint; last: bigint; offsets: bigint[]; partitions: number[] }>> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    const r = await c.runAndReadAll(
      `SELECT filename AS f, list(_offset ORDER BY _offset) AS o, list(DISTINCT _partition) AS p FROM read_parquet('${dir}/**/*.parquet', union_by_name = true, filename = true) GROUP BY filename`,
    );
    return r.getRowObjectsJS().map((row) => {
      const file = String(row.f).slice(dir.length + 1);
      const parsed = parseDataName(file.split('/').pop()!);
      assert.ok(parsed, `file name ${file} is part-<partition>-<first>-<last>.parquet`);
      return { file, partition: parsed.partition, first: BigInt(parsed.first), last: BigInt(parsed.last), offsets: (row.o as bigint[]).map(BigInt), partitions: (row.p as number[]).map(Number) };
    });
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

/** No offset twice, every file's rows inside its name's range and partition, ranges of one partition disjoint or equal. */
export function assertFilesConsistent(files: Awaited<ReturnType<typeof filesWithOffsets>>): void {
  const ranges = new Map<number, Map<string, [bigint, bigint]>>();
  for (const f of files) {
    assert.deepEqual(f.partitions, [f.partition], `${f.file}: rows of partition ${f.partition} only`);
    for (const o of f.offsets) assert.ok(o >= f.first && o <= f.last, `${f.file}: offset ${o} inside ${f.first}..${f.last}`);
    let m = ranges.get(f.partition);
    if (!m) ranges.set(f.partition, (m = new Map()));
    m.set(`${f.first}-${f.last}`, [f.first, f.last]);
  }
  for (const [p, m] of ranges) {
    const sorted = [...m.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]![0] > sorted[i - 1]![1], `partition ${p}: ranges ${sorted[i - 1]} and ${sorted[i]} overlap`);
  }
}
