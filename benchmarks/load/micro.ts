// Offline micro-benchmark of the loader's per-row work (dev use, see NOTES.md update 3): reads TOPIC from BROKERS
// (filled by micro-fill.ts) into memory once, then times MODE over it, CPU of the whole process (DuckDB threads
// included): decode | write-<appender|chunk|chunkbytes|split> (pre-built rows) | both-<appender|buf|chunk|direct>
// (decode → 10,000-row transactions, one after the other). Example:
//   BROKERS=127.0.0.1:9092 TOPIC=micro.a N=100000 node --import tsx benchmarks/load/micro-fill.ts
//   BROKERS=127.0.0.1:9092 TOPIC=micro.a MODE=both-direct node --import tsx --expose-gc benchmarks/load/micro.ts
import { DuckDBInstance, DuckDBDataChunk, VARCHAR } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { schema } from 'multidispatch/examples';
import { decodeRecord } from '../../dist/src/loader/record.js';
import { EventRegistry } from '../../dist/src/schema/registry.js';
import { rmSync } from 'node:fs';

const brokers = process.env.BROKERS!;
const topic = process.env.TOPIC!;
const mode = process.env.MODE ?? 'decode';
const form = mode.split('-')[1] ?? 'appender';
const registry = new EventRegistry(schema, { topics: { 'orders.v1': topic } });
const batches: Array<{ partition: number; messages: KafkaMessage[] }> = [];
{
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `micro-${Date.now()}`, maxBytes: 16 << 20, maxBytesPerPartition: 4 << 20 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  await new Promise<void>((done) => {
    void consumer.run({ autoCommit: false, eachBatch: async ({ batch }) => { batches.push({ partition: batch.partition, messages: batch.messages }); seen += batch.messages.length; if (seen >= total) done(); } });
  });
  await consumer.disconnect();
}
const n = batches.reduce((s, b) => s + b.messages.length, 0);
const path = `/tmp/ldrmb/${mode}.duckdb`;
rmSync(path, { force: true }); rmSync(`${path}.wal`, { force: true });
const inst = await DuckDBInstance.create(path);
const c = await inst.connect();
await c.run(`CREATE TABLE T (RECORD_METADATA JSON, RECORD_CONTENT JSON)`);
await c.run(`CREATE TABLE O (G VARCHAR, P INTEGER, N BIGINT, PRIMARY KEY (G, P))`);
await c.run(`INSERT INTO O VALUES ('g', 0, 0)`);

type Row = { metadata: string; content: string };
/** The binding's appender handle (private in @duckdb/node-api). */
const rawAppender = (a: unknown) => (a as { appender: never }).appender;
const enc = new TextEncoder();
class Block { buf = Buffer.allocUnsafe(24 << 20); ends = new Int32Array(2 * 40000); n = 0; pos = 0;
  add(a: string, b: string) { this.pos += this.buf.write(a, this.pos); this.ends[this.n++] = this.pos; this.pos += this.buf.write(b, this.pos); this.ends[this.n++] = this.pos; }
  get length() { return this.n >> 1; } }
class Direct { chunks: any[] = []; cur: any; v0: any; v1: any; k = 2048; n = 0;
  add(a: string, b: string) { if (this.k === 2048) { if (this.cur) duckdb.data_chunk_set_size(this.cur, 2048); this.cur = pool.pop() ?? duckdb.create_data_chunk(types); this.chunks.push(this.cur); this.v0 = duckdb.data_chunk_get_vector(this.cur, 0); this.v1 = duckdb.data_chunk_get_vector(this.cur, 1); this.k = 0; }
    duckdb.vector_assign_string_element(this.v0, this.k, a); duckdb.vector_assign_string_element(this.v1, this.k, b); this.k++; this.n++; }
  get length() { return this.n; } }
const pool: any[] = [];
let types: any[];
{ const a = await c.createAppender('T'); types = [0, 1].map((i) => duckdb.appender_column_type(rawAppender(a), i)); a.closeSync(); }
async function write(rows: Row[] | Block | Direct): Promise<void> {
  await c.run('BEGIN TRANSACTION');
  if (rows instanceof Direct) {
    duckdb.data_chunk_set_size(rows.cur, rows.k);
    const a = await c.createAppender('T');
    for (const ch of rows.chunks) { duckdb.append_data_chunk(rawAppender(a), ch); duckdb.data_chunk_reset(ch); pool.push(ch); }
    a.flushSync(); a.closeSync();
  } else if (rows instanceof Block) {
    const a = await c.createAppender('T');
    const chunk = DuckDBDataChunk.create([VARCHAR, VARCHAR]);
    const raw = chunk.chunk;
    const v0 = duckdb.data_chunk_get_vector(raw, 0); const v1 = duckdb.data_chunk_get_vector(raw, 1);
    const { buf, ends } = rows; const len = rows.length;
    let start = 0;
    for (let i = 0; i < len; i += 2048) {
      const m = Math.min(2048, len - i);
      for (let j = 0; j < m; j++) { const k = 2 * (i + j); const e0 = ends[k]!, e1 = ends[k + 1]!; duckdb.vector_assign_string_element_len(v0, j, buf.subarray(start, e0)); duckdb.vector_assign_string_element_len(v1, j, buf.subarray(e0, e1)); start = e1; }
      duckdb.data_chunk_set_size(raw, m);
      duckdb.append_data_chunk(rawAppender(a), raw);
      duckdb.data_chunk_reset(raw);
    }
    a.flushSync(); a.closeSync();
  } else if (form === 'appender') {
    const a = await c.createAppender('T');
    for (const r of rows) { a.appendVarchar(r.metadata); a.appendVarchar(r.content); a.endRow(); }
    a.flushSync(); a.closeSync();
  } else if (form === 'chunk') {
    const a = await c.createAppender('T');
    const chunk = DuckDBDataChunk.create([VARCHAR, VARCHAR]);
    const raw = chunk.chunk;
    const v0 = duckdb.data_chunk_get_vector(raw, 0); const v1 = duckdb.data_chunk_get_vector(raw, 1);
    for (let i = 0; i < rows.length; i += 2048) {
      const m = Math.min(2048, rows.length - i);
      for (let j = 0; j < m; j++) { const r = rows[i + j]!; duckdb.vector_assign_string_element(v0, j, r.metadata); duckdb.vector_assign_string_element(v1, j, r.content); }
      duckdb.data_chunk_set_size(raw, m);
      duckdb.append_data_chunk(rawAppender(a), raw);
      duckdb.data_chunk_reset(raw);
    }
    a.flushSync(); a.closeSync();
  } else if (form === 'chunkbytes') {
    const a = await c.createAppender('T');
    const chunk = DuckDBDataChunk.create([VARCHAR, VARCHAR]);
    const raw = chunk.chunk;
    const v0 = duckdb.data_chunk_get_vector(raw, 0); const v1 = duckdb.data_chunk_get_vector(raw, 1);
    for (let i = 0; i < rows.length; i += 2048) {
      const m = Math.min(2048, rows.length - i);
      for (let j = 0; j < m; j++) { const r = rows[i + j]!; duckdb.vector_assign_string_element_len(v0, j, enc.encode(r.metadata)); duckdb.vector_assign_string_element_len(v1, j, enc.encode(r.content)); }
      duckdb.data_chunk_set_size(raw, m);
      duckdb.append_data_chunk(rawAppender(a), raw);
      duckdb.data_chunk_reset(raw);
    }
    a.flushSync(); a.closeSync();
  } else if (form === 'varchar') {
    // Not the layout: VARCHAR staging table then INSERT SELECT (does the JSON cast cost?)
    await c.run('CREATE TEMP TABLE IF NOT EXISTS S (a VARCHAR, b VARCHAR)');
    const a = await c.createAppender('S', 'temp');
    for (const r of rows) { a.appendVarchar(r.metadata); a.appendVarchar(r.content); a.endRow(); }
    a.flushSync(); a.closeSync();
    await c.run('INSERT INTO T SELECT a, b FROM S'); await c.run('DELETE FROM S');
  } else if (form === 'split') {
    const s = rows.map((r) => r.metadata + '\u001e' + r.content).join('\u001f');
    await c.run(`INSERT INTO T SELECT split_part(x, chr(30), 1)::JSON, split_part(x, chr(30), 2)::JSON FROM (SELECT unnest(string_split($1, chr(31))) AS x)`, [s]);
  }
  await c.run(`UPDATE O SET N = N + ${rows.length} WHERE G = 'g' AND P = 0`);
  await c.run('COMMIT');
}

const cpu0 = process.cpuUsage();
const t0 = performance.now();
let sink = 0;
let wms = 0;
if (mode === 'decode' || mode.startsWith('both')) {
  let rows: any = form === 'buf' ? new Block() : form === 'direct' ? new Direct() : [];
  const lt = new Date().toISOString();
  for (const b of batches) {
    for (const m of b.messages) {
      const d = decodeRecord(registry, topic, b.partition, m as never, lt);
      if (d.kind === 'row') { sink += d.bytes; if (mode !== 'decode') { if (form === 'buf' || form === 'direct') rows.add(d.row.metadata, d.row.content); else rows.push(d.row); } }
      if (rows.length >= 10000) { const tw = performance.now(); await write(rows); wms += performance.now() - tw; rows = form === 'buf' ? new Block() : form === 'direct' ? new Direct() : []; }
    }
  }
  if (rows.length) await write(rows);
} else {
  const all: Row[] = [];
  const lt = new Date().toISOString();
  for (const b of batches) for (const m of b.messages) { const d = decodeRecord(registry, topic, b.partition, m as never, lt); if (d.kind === 'row') all.push({ metadata: JSON.parse(JSON.stringify(d.row.metadata)), content: d.row.content }); }
  (globalThis as { gc?: () => void }).gc?.();
  const cpu1 = process.cpuUsage(); const t1 = performance.now();
  for (let i = 0; i < all.length; i += 10000) await write(all.slice(i, i + 10000));
  const cpu = process.cpuUsage(cpu1); const ms = performance.now() - t1;
  console.log(JSON.stringify({ mode, n, ms: Math.round(ms), rowsPerSec: Math.round(n / ms * 1000), cpuUsPerRow: +((cpu.user + cpu.system) / n).toFixed(1), sysUsPerRow: +(cpu.system / n).toFixed(1) }));
  process.exit(0);
}
const cpu = process.cpuUsage(cpu0); const ms = performance.now() - t0;
const cnt = await c.runAndReadAll('SELECT count(*) AS n FROM T');
console.log(JSON.stringify({ mode, n, rows: Number(cnt.getRowObjects()[0]!.n), ms: Math.round(ms), writeMs: Math.round(wms), rowsPerSec: Math.round(n / ms * 1000), cpuUsPerRow: +((cpu.user + cpu.system) / n).toFixed(1), sysUsPerRow: +(cpu.system / n).toFixed(1), sink: sink > 0 }));
process.exit(0);
