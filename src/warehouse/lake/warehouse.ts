/**
 * The lake: Kafka topics as Hive-partitioned Parquet files on a file system or S3, exactly once, readable by DuckDB,
 * Trino/Athena, Spark and Dremio. Layout and commit protocol: layout.ts; column types: columns.ts; docs/lake.md.
 *
 * Files are written by an in-memory DuckDB (`COPY … TO … (FORMAT PARQUET)`): the loader's rows go into native data
 * chunks per (topic, event type, partition, date, hour) as they are decoded, and each group becomes one file whose
 * columns come from the event type's protobuf schema through json_transform.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk } from '@duckdb/node-api';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { MdError, OffsetConflictError, WarehouseError, WarehouseUnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { DuckDbRowBuffer } from '../duckdb/warehouse.js';
import { sqlString } from '../naming.js';
import { offsetKey, type BatchWrite, type RowBuffer, type RowInfo, type LoadRow, type ViewSpec, type Warehouse } from '../types.js';
import { planFor, selectFor, untypedPlan, type TypePlan } from './columns.js';
import {
  commitKey,
  commitPrefix,
  dataKey,
  hourOf,
  parseCommitKey,
  parsePendingKey,
  pendingKey,
  pendingPrefix,
  type CommitRecord,
  type PendingRecord,
} from './layout.js';
import { FsLakeStore, type LakeStore } from './store.js';

export interface LakeOptions {
  /** The store: a FsLakeStore / S3LakeStore (see openWarehouse for 'lake:DIR' and 'lake:s3://bucket/prefix'). */
  store: LakeStore;
  /** Parquet compression (default zstd). */
  compression?: 'zstd' | 'snappy' | 'gzip' | 'uncompressed';
  /** Rows per Parquet row group (default 122,880, DuckDB's default: large enough for scans). */
  rowGroupSize?: number;
  /** Commit markers kept per partition before the oldest are removed (default 100). */
  keepCommits?: number;
}

/** What a lake wrote (benchmarks, tests, the loader's summary). */
export interface LakeStats {
  files: number;
  bytes: number;
  rows: number;
  batches: number;
  /** Files of unfinished batches removed (a writer that died between its files and its commit marker). */
  cleanedFiles: number;
}

interface Group {
  topic: string;
  eventType: string;
  partition: number;
  date: string;
  hour: string;
  rows: DuckDbRowBuffer;
}

/** A batch's rows of one table, grouped by the file they go to. */
export class LakeRowBuffer implements RowBuffer {
  readonly wantsInfo = true;
  readonly groups = new Map<string, Group>();
  private count = 0;
  private lastKey = '';
  private last: Group | undefined;

  constructor(private readonly pool: DuckDBDataChunk[]) {}

  add(metadata: string, content: string, info?: RowInfo): void {
    const i = info ?? infoFromMetadata(metadata);
    const { date, hour } = hourOf(i.occurredAt, i.timestamp);
    const key = `${i.topic}\u0000${i.eventType}\u0000${i.partition}\u0000${date}\u0000${hour}`;
    let g = key === this.lastKey ? this.last : this.groups.get(key);
    if (!g) {
      g = { topic: i.topic, eventType: i.eventType, partition: i.partition, date, hour, rows: new DuckDbRowBuffer(this.pool) };
      this.groups.set(key, g);
    }
    this.lastKey = key;
    this.last = g;
    g.rows.add(metadata, content);
    this.count++;
  }

  get length(): number {
    return this.count;
  }

  toRows(): LoadRow[] {
    return [...this.groups.values()].flatMap((g) => g.rows.toRows());
  }

  release(): void {
    for (const g of this.groups.values()) g.rows.release();
    this.groups.clear();
    this.last = undefined;
    this.lastKey = '';
    this.count = 0;
  }
}

function infoFromMetadata(metadata: string): RowInfo {
  const m = JSON.parse(metadata) as { topic: string; partition: number; offset: number; CreateTime: number | null; event_type: string; occurred_at: string | null };
  return { topic: m.topic, eventType: m.event_type, partition: m.partition, offset: String(m.offset), occurredAt: m.occurred_at ?? undefined, timestamp: m.CreateTime === null ? '' : String(m.CreateTime) };
}

const STAGING = 'lake_staging';

/** How far a batch's write got (a retried writeBatch of the same batch skips what is done: files are never rewritten). */
interface Progress {
  pendingWritten: Set<string>;
  published: Map<string, { rows: number; bytes: number }>;
  committed: Set<string>;
}

export class LakeWarehouse implements Warehouse {
  readonly kind = 'lake';
  readonly needsEventTypes = true;
  readonly description: string;
  /** This instance's id in intents and commit markers (and temporary file names). */
  readonly writer = randomBytes(5).toString('hex');
  private readonly store: LakeStore;
  private readonly compression: string;
  private readonly rowGroupSize: number;
  private readonly keepCommits: number;
  private instance: DuckDBInstance | undefined;
  private conn: DuckDBConnection | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly plans = new Map<string, TypePlan>();
  private readonly untypedWarned = new Set<string>();
  private readonly pool: DuckDBDataChunk[] = [];
  /** Next offset per partition as this instance last read or wrote it. */
  private readonly positions = new Map<string, string>();
  private readonly progress = new WeakMap<BatchWrite, Progress>();
  private log: Logger | undefined;
  private readonly statsData: LakeStats = { files: 0, bytes: 0, rows: 0, batches: 0, cleanedFiles: 0 };

  constructor(options: LakeOptions) {
    this.store = options.store;
    this.description = options.store.description;
    this.compression = options.compression ?? 'zstd';
    this.rowGroupSize = options.rowGroupSize ?? 122_880;
    this.keepCommits = options.keepCommits ?? 100;
    if (!Number.isInteger(this.rowGroupSize) || this.rowGroupSize < 1) throw new WarehouseError(this.description, 'rowGroupSize must be a positive integer');
  }

  useLogger(log: Logger): void {
    this.log = log;
  }

  stats(): LakeStats {
    return { ...this.statsData };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async connection(): Promise<DuckDBConnection> {
    if (this.conn) return this.conn;
    this.instance = await DuckDBInstance.create(':memory:');
    const c = await this.instance.connect();
    await c.run(`SET TimeZone = 'UTC'`).catch(() => undefined);
    await c.run(`CREATE TABLE ${STAGING} (metadata JSON, content JSON)`);
    this.conn = c;
    return c;
  }

  async connect(): Promise<void> {
    await this.serial(async () => {
      await this.store.open();
      await this.connection();
    });
  }

  async ensureTable(): Promise<void> {
    // Nothing to create: a topic's directory appears with its first file.
  }

  async ensureView(spec: ViewSpec): Promise<void> {
    if (!spec.messageType) return;
    this.plans.set(spec.eventType, planFor(spec.eventType, spec.messageType));
  }

  /** The Parquet columns of an event type (after ensureView). */
  columnsOf(eventType: string): Array<{ name: string; type: string }> | undefined {
    return this.plans.get(eventType)?.columns;
  }

  createRowBuffer(): RowBuffer {
    return new LakeRowBuffer(this.pool);
  }

  async readOffsets(_group: string, topics: readonly string[], owned: ReadonlyArray<{ topic: string; partition: number }> = []): Promise<Map<string, string>> {
    return this.serial(async () => {
      const out = new Map<string, string>();
      for (const topic of topics) {
        const mine = new Set(owned.filter((o) => o.topic === topic).map((o) => o.partition));
        if (mine.size > 0) await this.recover(topic, mine);
        const byPartition = new Map<number, bigint[]>();
        const prefix = commitPrefix(topic);
        for (const key of await this.store.list(prefix)) {
          const c = parseCommitKey(key.slice(prefix.length));
          if (!c) continue;
          let firsts = byPartition.get(c.partition);
          if (!firsts) byPartition.set(c.partition, (firsts = []));
          firsts.push(BigInt(c.first));
        }
        for (const [partition, firsts] of byPartition) {
          firsts.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          const latest = await this.readCommit(topic, partition, String(firsts[firsts.length - 1]));
          if (!latest) continue;
          const next = String(BigInt(latest.last) + 1n);
          out.set(offsetKey(topic, partition), next);
          this.positions.set(offsetKey(topic, partition), next);
          if (mine.has(partition) && firsts.length > this.keepCommits * 2) {
            const old = firsts.slice(0, firsts.length - this.keepCommits).map((f) => commitKey(topic, partition, String(f)));
            await this.store.delete(old);
          }
        }
      }
      return out;
    });
  }

  private async readCommit(topic: string, partition: number, first: string): Promise<CommitRecord | undefined> {
    const text = await this.store.getText(commitKey(topic, partition, first));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as CommitRecord;
    } catch (err) {
      throw new WarehouseError(this.description, `commit marker ${commitKey(topic, partition, first)} is not valid JSON: ${(err as Error).message}`);
    }
  }

  /**
   * Unfinished writes of the partitions this loader owns now: intents of other writers (a loader that died, or
   * lost the partition) whose batch has no commit marker. Their files are deleted (they would be loaded twice
   * otherwise), with the temporary files left behind.
   */
  private async recover(topic: string, partitions: ReadonlySet<number>): Promise<void> {
    const prefix = pendingPrefix(topic);
    let removed = 0;
    for (const key of await this.store.list(prefix)) {
      const p = parsePendingKey(key.slice(prefix.length));
      if (!p || !partitions.has(p.partition) || p.writer === this.writer) continue;
      const commit = await this.readCommit(topic, p.partition, p.first);
      if (!(commit && commit.writer === p.writer && commit.last === p.last)) {
        const text = await this.store.getText(key);
        const pending = text === undefined ? undefined : (JSON.parse(text) as PendingRecord);
        // Same range as a committed batch of another writer: the names are that batch's files; keep them.
        const sameNames = commit !== undefined && commit.last === p.last;
        if (pending && !sameNames) {
          await this.store.delete(pending.files, p.writer);
          removed += pending.files.length;
        }
      }
      await this.store.delete([key]);
    }
    if (this.store instanceof FsLakeStore) {
      for (const p of partitions) {
        await this.store.removeStaleTemps(`${pendingPrefix(topic)}partition=${p}/`);
        await this.store.removeStaleTemps(`${commitPrefix(topic)}partition=${p}/`);
      }
    }
    if (removed > 0) {
      this.statsData.cleanedFiles += removed;
      this.log?.warn({ lake: this.description, topic, partitions: [...partitions], files: removed }, 'removed the files of batches that never committed (a loader stopped between its files and its commit marker)');
    }
  }

  async writeBatch(batch: BatchWrite): Promise<void> {
    await this.serial(async () => {
      const c = await this.connection();
      let progress = this.progress.get(batch);
      if (!progress) this.progress.set(batch, (progress = { pendingWritten: new Set(), published: new Map(), committed: new Set() }));

      // Compare-and-set on what this instance knows of each partition (the markers decide in the end).
      const stale = batch.offsets
        .filter((m) => {
          const known = this.positions.get(offsetKey(m.topic, m.partition));
          return known !== undefined && known !== m.expected && !progress.committed.has(offsetKey(m.topic, m.partition));
        })
        .map((m) => ({ topic: m.topic, partition: m.partition, expected: m.expected, found: this.positions.get(offsetKey(m.topic, m.partition)) ?? null }));
      if (stale.length > 0) throw new OffsetConflictError(stale);

      const ranges = new Map<string, { topic: string; partition: number; first: string; last: string; expected: string | null; next: string }>();
      for (const m of batch.offsets) {
        const first = m.first ?? m.expected;
        if (first === undefined || first === null) throw new WarehouseError(this.description, `offset move of ${m.topic}[${m.partition}] has no first offset`);
        ranges.set(offsetKey(m.topic, m.partition), { topic: m.topic, partition: m.partition, first, last: String(BigInt(m.next) - 1n), expected: m.expected, next: m.next });
      }

      // The files of this batch, per partition.
      const files = new Map<string, Array<{ key: string; group: Group }>>();
      for (const t of batch.tables) {
        const buffer = t.buffer instanceof LakeRowBuffer ? t.buffer : this.bufferFrom(t.rows);
        for (const g of buffer.groups.values()) {
          if (g.rows.length === 0) continue;
          const pk = offsetKey(g.topic, g.partition);
          const r = ranges.get(pk);
          if (!r) throw new WarehouseError(this.description, `rows of ${g.topic}[${g.partition}] without an offset move`);
          let list = files.get(pk);
          if (!list) files.set(pk, (list = []));
          list.push({ key: dataKey(g.topic, g.eventType, g.date, g.hour, g.partition, r.first, r.last), group: g });
        }
      }

      // 1. Intents: what each partition's batch is about to write.
      for (const [pk, r] of ranges) {
        const list = files.get(pk) ?? [];
        if (list.length === 0 || progress.pendingWritten.has(pk)) continue;
        const rec: PendingRecord = { format: 'multidispatch-lake-pending/1', topic: r.topic, partition: r.partition, first: r.first, last: r.last, writer: this.writer, files: list.map((f) => f.key) };
        await this.store.putText(pendingKey(r.topic, r.partition, r.first, r.last, this.writer), JSON.stringify(rec));
        progress.pendingWritten.add(pk);
      }

      // 2. The files, each written whole under a temporary name and then published.
      for (const list of files.values()) {
        for (const f of list) {
          if (progress.published.has(f.key)) continue;
          const staged = await this.store.stagingPath(f.key, this.writer);
          const plan = this.planOf(f.group.eventType);
          await this.copyGroup(c, f.group, plan, staged);
          const { size } = await fsp.stat(staged);
          await this.store.publish(staged, f.key);
          progress.published.set(f.key, { rows: f.group.rows.length, bytes: size });
        }
      }

      // 3. Commit markers, created only where no marker for the same first offset exists.
      const conflicts: Array<{ topic: string; partition: number; expected: string | null; found: string | null }> = [];
      for (const [pk, r] of ranges) {
        if (progress.committed.has(pk)) continue;
        const list = files.get(pk) ?? [];
        const rec: CommitRecord = {
          format: 'multidispatch-lake-commit/1',
          topic: r.topic,
          partition: r.partition,
          first: r.first,
          last: r.last,
          writer: this.writer,
          committedAt: new Date().toISOString(),
          files: list.map((f) => ({ key: f.key, ...progress.published.get(f.key)! })),
        };
        const created = await this.store.putText(commitKey(r.topic, r.partition, r.first), JSON.stringify(rec), { exclusive: true });
        if (!created) {
          const existing = await this.readCommit(r.topic, r.partition, r.first);
          if (!(existing && existing.writer === this.writer && existing.last === r.last)) {
            // Another writer committed a batch from the same offset: ours must not appear.
            const sameNames = existing !== undefined && existing.last === r.last;
            if (!sameNames) await this.store.delete(list.map((f) => f.key), this.writer);
            await this.store.delete([pendingKey(r.topic, r.partition, r.first, r.last, this.writer)]);
            conflicts.push({ topic: r.topic, partition: r.partition, expected: r.expected, found: existing ? String(BigInt(existing.last) + 1n) : null });
            this.positions.delete(pk);
            continue;
          }
        }
        progress.committed.add(pk);
        this.positions.set(pk, r.next);
        for (const f of list) {
          const p = progress.published.get(f.key)!;
          this.statsData.files++;
          this.statsData.bytes += p.bytes;
          this.statsData.rows += p.rows;
        }
      }
      if (conflicts.length > 0) throw new OffsetConflictError(conflicts);

      // 4. The intents are done with.
      const done = [...ranges.entries()].filter(([pk]) => progress.pendingWritten.has(pk)).map(([, r]) => pendingKey(r.topic, r.partition, r.first, r.last, this.writer));
      if (done.length > 0) await this.store.delete(done);
      progress.pendingWritten.clear();
      this.statsData.batches++;
    });
  }

  private planOf(eventType: string): TypePlan {
    let plan = this.plans.get(eventType);
    if (!plan) {
      if (!this.untypedWarned.has(eventType)) {
        this.untypedWarned.add(eventType);
        this.log?.warn({ lake: this.description, eventType }, 'no schema registered for this event type: its files keep the event as JSON text in a _content column');
      }
      plan = untypedPlan(eventType);
    }
    return plan;
  }

  private bufferFrom(rows: readonly LoadRow[]): LakeRowBuffer {
    const b = new LakeRowBuffer(this.pool);
    for (const r of rows) b.add(r.metadata, r.content);
    return b;
  }

  private async copyGroup(c: DuckDBConnection, g: Group, plan: TypePlan, path: string): Promise<void> {
    try {
      // A fresh table per file: the previous group's rows are gone with it (a DELETE would keep their storage).
      await c.run(`CREATE OR REPLACE TABLE ${STAGING} (metadata JSON, content JSON)`);
      const appender = await c.createAppender(STAGING);
      try {
        g.rows.appendTo(appender);
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      await c.run(`COPY (${selectFor(plan, STAGING)}) TO ${sqlString(path)} (FORMAT PARQUET, COMPRESSION ${this.compression}, ROW_GROUP_SIZE ${this.rowGroupSize})`);
    } catch (err) {
      await fsp.rm(path, { force: true }).catch(() => undefined);
      if (err instanceof MdError) throw err;
      const msg = ((err as Error).message ?? String(err)).split('\n')[0]!;
      if (/No space left|disk full|I\/O Error|Could not write/i.test(msg)) throw new WarehouseUnavailableError(this.description, `writing ${path}: ${msg}`, { cause: err });
      throw new WarehouseError(this.description, `writing the Parquet file of ${g.eventType} (${g.topic}[${g.partition}]): ${msg}`, { cause: err });
    }
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    return this.serial(async () => {
      const c = await this.connection();
      try {
        const r = await c.runAndReadAll(sql);
        return r.getRowObjectsJS() as Record<string, unknown>[];
      } catch (err) {
        throw new WarehouseError(this.description, ((err as Error).message ?? String(err)).split('\n')[0]!, { cause: err });
      }
    });
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      this.conn?.closeSync();
      this.conn = undefined;
      this.instance?.closeSync();
      this.instance = undefined;
      await this.store.close();
    });
  }
}
