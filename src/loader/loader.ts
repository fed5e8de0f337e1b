import type { EachBatchContext, KafkaAdmin, KafkaClient, KafkaConsumer, KafkaProducer } from '../kafka/port.js';
import { channels, stderrLogger, type Logger } from '../log.js';
import { MdError, OffsetConflictError, PoisonRecordError, WarehouseError, WarehouseUnavailableError } from '../errors.js';
import { parseOptions } from '../config/parse.js';
import { createKafkaClient } from '../kafka/client.js';
import { ensureTopics, missingTopics } from '../kafka/admin.js';
import { withBuiltinSchema } from '../schema/builtin.js';
import { LiveCatalogue } from '../catalogue/live.js';
import { HEADER } from '../schema/envelope.js';
import { EventRegistry, type RecordSchemas } from '../schema/registry.js';
import { checkIdentifier, tableNameForTopic, upperSnake, viewSpecFor } from '../warehouse/naming.js';
import { openWarehouse } from '../warehouse/open.js';
import { ArrayRowBuffer, offsetKey, type OffsetMove, type RowBuffer, type TableRows, type Warehouse } from '../warehouse/types.js';
import { loaderOptionsSchema, type LoaderOptions, type ResolvedLoaderOptions } from './options.js';
import { decodeRecord, headerString } from './record.js';

/** What a loader did so far. */
export interface LoaderStats {
  /** Rows committed to the warehouse by this loader instance. */
  rowsLoaded: number;
  /** Warehouse transactions committed. */
  batches: number;
  /** Records sent to the dead-letter topic (their offsets were committed with the next batch). */
  deadLettered: number;
  /** Records with a null value, skipped. */
  tombstones: number;
  /** Records read again after a restart or rebalance and skipped because the warehouse already had them. */
  skippedAlreadyLoaded: number;
  /** Batches rolled back because another instance had moved the offsets (rebalance). */
  offsetConflicts: number;
  /** Times a warehouse write was retried because the warehouse was unavailable. */
  warehouseRetries: number;
}

export interface LoaderProgress {
  /** Partitions with their committed next offset and, for --once, the end offset to reach. */
  partitions: Array<{ topic: string; partition: number; next: string | null; end: string | undefined }>;
  rowsLoaded: number;
  /** Records still to load to reach the targets (runOnce), summed over partitions. */
  remaining: number | undefined;
  total: number | undefined;
}

export interface LoaderHooks {
  /** Where the loader logs (pino, bunyan, winston or console fit; default: JSON lines at 'info' on stderr). */
  logger?: Logger;
  /** Called after every committed batch (progress bars). */
  onProgress?: (p: LoaderProgress) => void;
}

interface Move extends OffsetMove {
  /** First offset buffered for the partition in this batch (where to seek back to when the batch is dropped). */
  first: string;
}

interface Pending {
  /** Rows per table, in the warehouse's buffers (released once the batch is committed or dropped). */
  tables: Map<string, RowBuffer>;
  moves: Map<string, Move>;
  dlq: Array<{ topic: string; partition: number; offset: string; key: Buffer | null; value: Buffer | null; headers: Record<string, string>; reason: string; errorClass: string }>;
  count: number;
  bytes: number;
  rows: number;
  since: number;
}

const emptyPending = (): Pending => ({ tables: new Map(), moves: new Map(), dlq: [], count: 0, bytes: 0, rows: 0, since: 0 });
const release = (batch: Pending) => {
  for (const buffer of batch.tables.values()) buffer.release();
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const big = (s: string) => BigInt(s);
const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));
/** Batch defaults for a lake target (each batch writes one file per partition, event type and hour). */
export const LAKE_BATCH_DEFAULTS = { batchRecords: 100_000, batchBytes: 128_000_000, flushMs: 60_000 } as const;

function isLake(w: unknown): boolean {
  if (typeof w === 'string') return w.startsWith('lake:');
  return !!w && typeof w === 'object' && ((w as { type?: unknown }).type === 'lake' || (w as { kind?: unknown }).kind === 'lake');
}

/** Records decoded between two yields to the event loop while a write is in flight. */
const YIELD_EVERY = 256;
/** The offset the fetch that produced this batch asked for (kafkajs sets it; its typings omit it). */
const fetchedOffsetOf = (batch: EachBatchContext['batch']): string => batch.fetchedOffset;

/**
 * The Kafka → warehouse loader. Exactly once: every batch's rows and the next offset of every partition
 * in it are written in ONE warehouse transaction, as a compare-and-set on the offsets the loader read;
 * the loader positions itself from the warehouse's offsets (not Kafka's) on start and on every assignment.
 *
 * @example
 * const loader = createLoader({ kafka: { brokers: ['127.0.0.1:9092'] }, schema, topics: ['orders.v1'],
 *                               warehouse: 'duckdb:events.duckdb' });
 * const summary = await loader.runOnce();   // until caught up with the end offsets seen at start
 */
export class Loader {
  readonly options: ResolvedLoaderOptions;
  /** The fixed schema (undefined when the loader reads the event catalogue). */
  readonly registry: EventRegistry | undefined;
  private catalogue: LiveCatalogue | undefined;
  /** Event types whose typed view must be (re)created before the next batch: new versions from the catalogue. */
  private readonly staleViews = new Set<string>();
  /** Versions that stayed unknown for a whole wait; not waited for again until the catalogue changes. */
  private readonly givenUp = new Set<string>();
  readonly log: Logger;
  private readonly hooks: LoaderHooks;
  private readonly kafka: KafkaClient;
  private warehouse: Warehouse | undefined;
  private ownsWarehouse = false;
  private consumer: KafkaConsumer | undefined;
  private producer: KafkaProducer | undefined;
  private admin: KafkaAdmin | undefined;
  private topics: string[] = [];
  private readonly tableOf = new Map<string, string>();
  private readonly ensuredTables = new Set<string>();

  /** Committed next offset per partition as stored in the warehouse (null: nothing stored). */
  private readonly committed = new Map<string, string | null>();
  /** Topics whose warehouse offsets were read since the last assignment. */
  private readonly offsetsLoaded = new Set<string>();
  /** Partitions positioned (sought) since the last assignment. */
  private readonly positioned = new Set<string>();
  private assigned: Array<{ topic: string; partition: number }> = [];
  private pending = emptyPending();
  /** The batch being written (at most one), and how its write failed. */
  private writing: { batch: Pending; promise: Promise<void> } | undefined;
  private writeFailure: { batch: Pending; err: unknown } | undefined;
  private lockConflicts = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private heartbeat: (() => Promise<void>) | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private logTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private abandon = false;
  private started = false;
  private fatal: Error | undefined;
  private finish: ((err?: Error) => void) | undefined;
  private done: Promise<void> | undefined;
  private targets: Map<string, string> | undefined;
  private readonly statsData: LoaderStats = { rowsLoaded: 0, batches: 0, deadLettered: 0, tombstones: 0, skippedAlreadyLoaded: 0, offsetConflicts: 0, warehouseRetries: 0 };
  private lastLog = { at: Date.now(), rows: 0 };

  constructor(options: LoaderOptions, hooks: LoaderHooks = {}) {
    this.options = parseOptions(loaderOptionsSchema, options, 'loader');
    if (isLake(options.warehouse)) {
      // A lake file rotates with its batch: bigger batches make fewer, larger files (docs/lake.md, small files).
      if (options.batchRecords === undefined) this.options.batchRecords = LAKE_BATCH_DEFAULTS.batchRecords;
      if (options.batchBytes === undefined) this.options.batchBytes = LAKE_BATCH_DEFAULTS.batchBytes;
      if (options.flushMs === undefined) this.options.flushMs = LAKE_BATCH_DEFAULTS.flushMs;
    }
    this.hooks = hooks;
    this.log = hooks.logger ?? stderrLogger('multidispatch-loader');
    // The built-in schema too: the loader loads derive's metric values and alerts like any other event type.
    this.registry = this.options.schema ? new EventRegistry(withBuiltinSchema(this.options.schema), { topics: this.options.topicRenames }) : undefined;
    for (const [topic, table] of Object.entries(this.options.tables)) checkIdentifier(`tables.${topic}`, table);
    this.kafka = createKafkaClient(this.options.kafka);
  }

  private get schemas(): RecordSchemas {
    return (this.registry ?? this.catalogue)!;
  }

  stats(): LoaderStats {
    return { ...this.statsData };
  }

  /** The table a topic is loaded into. */
  tableFor(topic: string): string {
    let t = this.tableOf.get(topic);
    if (!t) {
      t = this.options.tables[topic] ?? tableNameForTopic(topic);
      this.tableOf.set(topic, t);
    }
    return t;
  }

  /** The warehouse (after start()). */
  get warehouseHandle(): Warehouse | undefined {
    return this.warehouse;
  }

  /** Loads until every partition reached the end offset it had when the loader started, then stops. */
  async runOnce(): Promise<LoaderStats> {
    await this.start({ once: true });
    await this.done;
    return this.stats();
  }

  /** Runs until stop() (or a fatal error, which rejects). */
  async run(): Promise<LoaderStats> {
    await this.start({ once: false });
    await this.done;
    return this.stats();
  }

  /** Resolves when the loader stopped (stop(), caught up in once mode); rejects with the fatal error. */
  whenDone(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  async start({ once }: { once: boolean }): Promise<void> {
    if (this.started) throw new MdError('MD_USAGE', 'the loader was already started');
    this.started = true;
    this.done = new Promise<void>((resolve, reject) => {
      this.finish = (err) => (err ? reject(err) : resolve());
    });
    this.done.catch(() => undefined);
    try {
      await this.open(once);
    } catch (err) {
      // What opened before the failure (warehouse, admin, producer, consumer) would keep the process alive
      // and the DuckDB file locked: close it all, then hand the error to the caller.
      this.fatal ??= err as Error;
      await this.shutdown(err as Error);
      throw err;
    }
  }

  /** Connects everything start() needs; on a failure start() closes what this opened. */
  private async open(once: boolean): Promise<void> {
    this.warehouse = await this.openWarehouse();
    this.warehouse.useLogger?.(this.log);
    this.admin = this.kafka.admin();
    await this.admin.connect();
    this.topics = await this.resolveTopics();
    if (this.options.catalogue) await this.openCatalogue(this.options.catalogue.topic);
    await this.withWarehouseRetry('connect', () => this.warehouse!.connect());
    for (const topic of this.topics) await this.ensureTable(this.tableFor(topic));
    if (this.options.views || this.warehouse.needsEventTypes) await this.ensureViews();
    if (once) {
      this.targets = new Map();
      for (const topic of this.topics) {
        for (const p of await this.admin.fetchTopicOffsets(topic)) this.targets.set(offsetKey(topic, p.partition), p.high);
      }
      const stored = await this.withWarehouseRetry('read offsets', () => this.warehouse!.readOffsets(this.options.group, this.topics));
      if (this.caughtUp(stored)) {
        this.log.info({ topics: this.topics }, 'nothing to load: the warehouse already has every record up to the end offsets');
        await this.shutdown();
        return;
      }
    }
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    if (this.options.errorsTolerance === 'all') await ensureTopics(this.kafka, [{ topic: this.options.dlqTopic, partitions: 1 }]);
    this.consumer = this.kafka.consumer({
      groupId: this.options.group,
      sessionTimeout: this.options.sessionTimeoutMs,
      rebalanceTimeout: Math.max(60_000, this.options.sessionTimeoutMs),
      heartbeatInterval: Math.max(500, Math.floor(this.options.sessionTimeoutMs / 10)),
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
      maxWaitTimeInMs: 500,
      readUncommitted: false,
    });
    this.consumer.onGroupJoin((assignment) => this.onAssignment(assignment));
    this.consumer.onCrash((error, restart) => {
      if (!restart) this.fail(error);
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.topics, fromBeginning: this.options.startFrom === 'earliest' });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.flushTimer = setInterval(() => {
      if (this.pending.count > 0 && Date.now() - this.pending.since >= this.options.flushMs) void this.locked(() => this.flush('time')).catch((err) => this.fail(err));
    }, Math.min(250, this.options.flushMs));
    if (!once) this.logTimer = setInterval(() => void this.logProgress(), this.options.logIntervalMs);
    this.log.info({ topics: this.topics, group: this.options.group, warehouse: this.warehouse.description, once }, 'loader started');
  }

  /**
   * Stops: finishes (commits) the open batch, leaves the group, closes connections. With `abandon: true`
   * the open batch is dropped instead (nothing of it is committed; it is loaded again by whoever gets its
   * partitions next).
   */
  async stop(opts: { abandon?: boolean } = {}): Promise<void> {
    if (!this.started) return;
    if (opts.abandon) this.abandon = true;
    await this.shutdown();
    await this.done?.catch(() => undefined);
  }

  private async openWarehouse(): Promise<Warehouse> {
    const w = this.options.warehouse;
    if (typeof w === 'object' && 'writeBatch' in w) return w as Warehouse;
    this.ownsWarehouse = true;
    return openWarehouse(w as Parameters<typeof openWarehouse>[0]);
  }

  private async resolveTopics(): Promise<string[]> {
    const existing = await this.admin!.listTopics();
    if (this.options.topicPattern !== undefined) {
      const re = new RegExp(this.options.topicPattern);
      const found = existing.filter((t) => re.test(t) && !t.startsWith('__') && t !== this.options.dlqTopic).sort();
      if (found.length === 0) throw new MdError('MD_OPTIONS', `topicPattern /${this.options.topicPattern}/ matches no topic on the cluster`);
      return found;
    }
    const missing = await missingTopics(this.admin!, this.options.topics!, 'DESCRIBE and READ');
    if (missing.length > 0) throw new MdError('MD_OPTIONS', `topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found on the cluster`);
    return [...this.options.topics!];
  }

  private async ensureTable(table: string): Promise<void> {
    if (this.ensuredTables.has(table)) return;
    await this.withWarehouseRetry(`create table ${table}`, () => this.warehouse!.ensureTable(table));
    this.ensuredTables.add(table);
  }

  /** The event types of the loaded topics, each with the registry of its latest version (fixed schema or catalogue). */
  private viewTypes(): Array<{ type: string; topic: string; registry: EventRegistry }> {
    const out: Array<{ type: string; topic: string; registry: EventRegistry }> = [];
    if (this.registry) {
      for (const e of this.registry.bundle.events) out.push({ type: e.type, topic: this.registry.lookup(e.type).rule.topic, registry: this.registry });
    } else if (this.catalogue) {
      for (const e of this.catalogue.latestEntries()) {
        const registry = this.catalogue.registryFor(e.type, undefined)!;
        out.push({ type: e.type, topic: registry.lookup(e.type).rule.topic, registry });
      }
    }
    return out.filter((x) => this.topics.includes(x.topic));
  }

  private async ensureViews(only?: ReadonlySet<string>): Promise<void> {
    const types = this.viewTypes();
    const simple = new Map<string, number>();
    for (const r of types) {
      const n = upperSnake(r.type.split('.').pop()!);
      simple.set(n, (simple.get(n) ?? 0) + 1);
    }
    for (const r of types) {
      if (only && !only.has(r.type)) continue;
      await this.ensureTable(this.tableFor(r.topic));
      const spec = viewSpecFor(r.registry, r.type, this.tableFor(r.topic));
      // Two event types with the same simple name in different packages: use the full name for both.
      if (simple.get(spec.view)! > 1) spec.view = checkIdentifier(`view for ${r.type}`, upperSnake(r.type.replace(/\./g, '_')));
      await this.withWarehouseRetry(`create view ${spec.view}`, () => this.warehouse!.ensureView(spec));
      if (only) this.log.info({ eventType: r.type, view: spec.view, columns: spec.columns.length }, 'typed view updated from the catalogue');
    }
  }

  private async openCatalogue(topic: string): Promise<void> {
    this.catalogue = await LiveCatalogue.open(this.kafka, { topic, overrides: { topics: this.options.topicRenames }, log: this.log });
    this.catalogue.onChange((changed) => {
      this.givenUp.clear();
      for (const e of changed) {
        this.log.info({ eventType: e.type, fingerprint: e.fingerprint, topic: e.topic }, 'catalogue: version received');
        this.staleViews.add(e.type);
      }
    });
    this.log.info({ topic, eventTypes: this.catalogue.latestEntries().length }, 'catalogue read');
  }

  /**
   * Catalogue mode, before a batch is decoded: a record whose schema version is not known yet waits (up to the
   * catalogue's waitMs, heartbeating) for the version to arrive; typed views of types with new versions are
   * recreated once no write is in flight.
   */
  private async beforeDecode(payload: EachBatchContext): Promise<void> {
    const catalogue = this.catalogue!;
    const unknown = new Map<string, { type: string; fingerprint: string | undefined }>();
    for (const m of payload.batch.messages) {
      const type = headerString(m.headers?.[HEADER.eventType]);
      if (!type) continue;
      const fingerprint = headerString(m.headers?.[HEADER.schemaFingerprint]);
      const k = `${type}@${fingerprint ?? ''}`;
      if (!unknown.has(k) && !this.givenUp.has(k) && !catalogue.knows(type, fingerprint)) unknown.set(k, { type, fingerprint });
    }
    if (unknown.size > 0) {
      const waitMs = this.options.catalogue!.waitMs;
      this.log.info({ versions: [...unknown.keys()], waitMs }, 'waiting for schema versions to reach the catalogue');
      const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), 1000);
      let still: Array<{ type: string; fingerprint: string | undefined }>;
      try {
        still = await catalogue.waitFor([...unknown.values()], waitMs, { get aborted() { return payload.isStale() || !payload.isRunning(); } });
      } finally {
        clearInterval(beat);
      }
      for (const w of still) this.givenUp.add(`${w.type}@${w.fingerprint ?? ''}`);
      if (still.length > 0) this.log.warn({ versions: still.map((w) => `${w.type}@${w.fingerprint ?? '(no fingerprint header)'}`), waitMs }, 'schema versions not in the catalogue after the wait; their records go to the dead-letter topic');
    }
    if (this.staleViews.size > 0 && (this.options.views || this.warehouse!.needsEventTypes)) {
      const types = new Set(this.staleViews);
      this.staleViews.clear();
      await this.awaitWrite();
      await this.ensureViews(types);
    }
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    this.assigned = Object.entries(assignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
    // Re-read the warehouse offsets and re-position every partition on its next batch.
    this.offsetsLoaded.clear();
    this.positioned.clear();
    this.log.info({ partitions: this.assigned.map((p) => `${p.topic}[${p.partition}]`) }, 'partitions assigned');
    void this.checkOnceDone();
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async loadOffsets(topic: string): Promise<void> {
    if (this.offsetsLoaded.has(topic)) return;
    const owned = this.assigned.filter((a) => a.topic === topic);
    const stored = await this.withWarehouseRetry('read offsets', () => this.warehouse!.readOffsets(this.options.group, [topic], owned));
    for (const key of [...this.committed.keys()]) if (key.startsWith(`${topic}\u0000`)) this.committed.delete(key);
    for (const [k, v] of stored) this.committed.set(k, v);
    this.offsetsLoaded.add(topic);
  }

  /** The next offset this loader will write for a partition: pending batch first, then the warehouse's. */
  private position(key: string): string | null {
    return this.pending.moves.get(key)?.next ?? this.writing?.batch.moves.get(key)?.next ?? this.committed.get(key) ?? null;
  }

  private async eachBatch(payload: EachBatchContext): Promise<void> {
    this.heartbeat = payload.heartbeat;
    await this.locked(async () => {
      if (this.stopping || this.fatal) return;
      try {
        await this.processBatch(payload);
      } catch (err) {
        this.fail(err);
      }
    });
    // Outside the lock and the error handling above: a rebalance surfaces here as an error that kafkajs
    // itself must see (it rejoins the group); it is not a loader failure.
    if (!this.stopping && !this.fatal) await payload.heartbeat();
  }

  private async processBatch(payload: EachBatchContext): Promise<void> {
    {
      const { batch } = payload;
      const key = offsetKey(batch.topic, batch.partition);
      await this.loadOffsets(batch.topic);
      const expected = this.position(key);
      if (expected === null && !this.positioned.has(key) && this.options.startFrom === 'earliest') {
        // Nothing in the warehouse for this partition: start at the earliest record, whatever offsets the
        // group may have in Kafka.
        this.positioned.add(key);
        const low = await this.lowOffset(batch.topic, batch.partition);
        if (low !== undefined && big(fetchedOffsetOf(batch)) !== big(low)) {
          this.seek(batch.topic, batch.partition, low);
          return;
        }
      } else if (expected !== null && !this.positioned.has(key)) {
        this.positioned.add(key);
        if (big(fetchedOffsetOf(batch)) !== big(expected)) {
          // Position from the warehouse, not from where Kafka (or a previous owner) left the group.
          this.seek(batch.topic, batch.partition, expected);
          return;
        }
      } else if (expected !== null && big(fetchedOffsetOf(batch)) > big(expected)) {
        this.log.warn(
          { topic: batch.topic, partition: batch.partition, expected, fetched: fetchedOffsetOf(batch) },
          'records between the stored offset and the earliest available one are gone from the topic (retention); loading from the earliest',
        );
      }
      this.positioned.add(key);
      if (this.catalogue) {
        await this.beforeDecode(payload);
        if (!payload.isRunning() || payload.isStale() || this.stopping) return;
      }
      const loadTime = new Date().toISOString();
      const table = this.tableFor(batch.topic);
      let lastSeen: string | undefined;
      let sinceYield = 0;
      for (const message of batch.messages) {
        // While a batch is being written, give its statements' completions a turn every few hundred records:
        // each step of the write (BEGIN, offsets compare-and-set, COMMIT) resolves on the event loop, and a
        // fetch batch of ~10,000 records decoded in one go would hold every step back until it ends.
        if (this.writing !== undefined && ++sinceYield >= YIELD_EVERY) {
          sinceYield = 0;
          await yieldToEventLoop();
        }
        if (!payload.isRunning() || payload.isStale() || this.stopping) return;
        const pos = this.position(key);
        if (pos !== null && big(message.offset) < big(pos)) {
          this.statsData.skippedAlreadyLoaded++;
          continue;
        }
        const d = decodeRecord(this.schemas, batch.topic, batch.partition, message, loadTime);
        if (d.kind === 'poison') {
          if (this.options.errorsTolerance === 'none') {
            // Keep what was accepted before the bad record, then stop without moving past it.
            await this.flush('before poison record');
            await this.awaitWrite();
            this.fail(new PoisonRecordError(batch.topic, batch.partition, message.offset, d.reason));
            return;
          }
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? v.map(String).join(',') : v.toString();
          this.pending.dlq.push({ topic: batch.topic, partition: batch.partition, offset: message.offset, key: message.key, value: message.value, headers, reason: d.reason, errorClass: d.errorClass });
        } else if (d.kind === 'tombstone') {
          this.statsData.tombstones++;
        } else {
          let rows = this.pending.tables.get(table);
          if (!rows) this.pending.tables.set(table, (rows = this.newRowBuffer(table)));
          if (rows.wantsInfo) rows.add(d.row.metadata, d.row.content, { topic: batch.topic, eventType: d.eventType, partition: batch.partition, offset: message.offset, occurredAt: d.occurredAt, timestamp: d.timestamp });
          else rows.add(d.row.metadata, d.row.content);
          this.pending.bytes += d.bytes;
          this.pending.rows++;
        }
        this.advance(batch.topic, batch.partition, message.offset, big(message.offset) + 1n);
        lastSeen = message.offset;
        payload.resolveOffset(message.offset);
        if (this.pending.count >= this.options.batchRecords || this.pending.bytes >= this.options.batchBytes) await this.flush('size');
      }
      // Control records (transaction markers) at the end of the batch: move past them too.
      const last = batch.lastOffset();
      if (lastSeen !== undefined && big(last) > big(lastSeen) && !payload.isStale()) {
        this.advance(batch.topic, batch.partition, last, big(last) + 1n);
        payload.resolveOffset(last);
      }
      if (this.targets && this.pendingReachesTargets()) await this.flush('caught up');
    }
  }

  private newRowBuffer(table: string): RowBuffer {
    // The warehouse's own buffer once its table exists (DuckDB: native data chunks), else an array.
    return (this.ensuredTables.has(table) ? this.warehouse!.createRowBuffer?.(table) : undefined) ?? new ArrayRowBuffer();
  }

  private async lowOffset(topic: string, partition: number): Promise<string | undefined> {
    try {
      const offsets = await this.admin!.fetchTopicOffsets(topic);
      return offsets.find((o) => o.partition === partition)?.low;
    } catch {
      return undefined;
    }
  }

  /** runOnce: the pending batch takes every partition to its target; write it now rather than after flushMs. */
  private pendingReachesTargets(): boolean {
    if (this.pending.count === 0) return false;
    for (const [key, end] of this.targets!) {
      if (big(end) === 0n) continue;
      const pos = this.position(key);
      if (pos === null || big(pos) < big(end)) return false;
    }
    return true;
  }

  private advance(topic: string, partition: number, offset: string, next: bigint): void {
    const key = offsetKey(topic, partition);
    let m = this.pending.moves.get(key);
    if (!m) {
      m = { topic, partition, expected: this.writing?.batch.moves.get(key)?.next ?? this.committed.get(key) ?? null, next: String(next), first: offset };
      this.pending.moves.set(key, m);
    }
    m.next = String(next);
    if (this.pending.count === 0) this.pending.since = Date.now();
    this.pending.count++;
  }

  private seek(topic: string, partition: number, offset: string): void {
    try {
      this.consumer!.seek({ topic, partition, offset });
    } catch (err) {
      this.log.warn({ topic, partition, offset, err: (err as Error).message }, 'seek failed');
    }
  }

  /**
   * Starts writing the pending batch (DLQ first, then rows + offsets in one transaction) and returns once the
   * write is under way: the next batch is decoded while this one commits. At most one write is in flight;
   * a second flush first waits for it. Call under the lock.
   */
  private async flush(reason: string): Promise<void> {
    if (this.pending.count === 0) return;
    await this.awaitWrite();
    const batch = this.pending;
    if (batch.count === 0) return; // dropped by a conflict of the previous write
    this.pending = emptyPending();
    const promise = this.write(batch).then(
      () => this.onCommitted(batch, reason),
      (err: unknown) => {
        this.writeFailure = { batch, err };
        // Deal with it under the lock even if no further batch or flush comes along.
        void this.locked(() => this.awaitWrite()).catch((e) => this.fail(e));
      },
    );
    this.writing = { batch, promise };
  }

  private async write(batch: Pending): Promise<void> {
    if (batch.dlq.length > 0) await this.sendToDlq(batch);
    for (const table of batch.tables.keys()) await this.ensureTable(table);
    const write = {
      group: this.options.group,
      tables: [...batch.tables].map(([table, buffer]): TableRows => ({
        table,
        buffer,
        get rows() {
          return buffer.toRows();
        },
      })),
      offsets: [...batch.moves.values()].map(({ topic, partition, expected, next, first }) => ({ topic, partition, expected, next, first })),
    };
    await this.withWarehouseRetry(`write a batch of ${batch.rows} rows`, () => this.warehouse!.writeBatch(write), batch);
  }

  private onCommitted(batch: Pending, reason: string): void {
    this.lockConflicts = 0;
    release(batch);
    for (const [key, m] of batch.moves) this.committed.set(key, m.next);
    this.statsData.rowsLoaded += batch.rows;
    this.statsData.batches++;
    this.statsData.deadLettered += batch.dlq.length;
    this.log.debug({ rows: batch.rows, records: batch.count, reason }, 'batch committed');
    if (channels.loaderBatch.hasSubscribers) channels.loaderBatch.publish({ group: this.options.group, rows: batch.rows, records: batch.count, deadLettered: batch.dlq.length, reason });
    if (this.options.commitToKafka && this.consumer) {
      const offsets = [...batch.moves.values()].map((m) => ({ topic: m.topic, partition: m.partition, offset: m.next }));
      this.consumer.commitOffsets(offsets).catch(() => undefined);
    }
    this.hooks.onProgress?.(this.progress());
    void this.checkOnceDone();
  }

  /**
   * Waits for the write in flight. After an offset conflict the failed batch AND the pending one (whose
   * expected offsets were based on it) are dropped and every partition in them is sought back to the
   * warehouse's offsets. Any other failure is thrown (fatal). Call under the lock.
   */
  private async awaitWrite(): Promise<void> {
    const w = this.writing;
    if (!w) return;
    await w.promise;
    if (this.writing === w) this.writing = undefined;
    const failure = this.writeFailure;
    if (!failure) return;
    this.writeFailure = undefined;
    if (failure.err instanceof OffsetConflictError) {
      this.statsData.offsetConflicts++;
      const locked = failure.err.partitions.every((p) => p.found !== null && p.found === p.expected);
      if (locked) {
        // The stored offsets are what this loader expected, yet the write conflicted: another session holds
        // the row in an open transaction (typically a loader that died mid-commit, until the warehouse ends its
        // session). Back off instead of spinning; the batch is re-read and retried.
        this.lockConflicts++;
        const waitMs = Math.min(this.options.retryMaxMs, 100 * 2 ** Math.min(this.lockConflicts, 10));
        this.log.warn(
          { partitions: failure.err.partitions, attempt: this.lockConflicts, retryInMs: waitMs },
          'offsets are locked by another session\'s open transaction (a loader that died mid-commit?): batch rolled back, retrying after a pause',
        );
        await sleep(waitMs);
      } else {
        this.lockConflicts = 0;
        this.log.warn({ partitions: failure.err.partitions }, 'another loader instance moved these offsets (rebalance): batch rolled back, re-reading offsets from the warehouse');
      }
      const dropped = [failure.batch, this.pending];
      this.pending = emptyPending();
      for (const b of dropped) release(b);
      await this.repositionAfterDrop(dropped);
      return;
    }
    throw failure.err;
  }

  private async repositionAfterDrop(batches: Pending[]): Promise<void> {
    const first = new Map<string, Move>();
    for (const b of batches) {
      for (const [key, m] of b.moves) {
        const seen = first.get(key);
        if (!seen || big(m.first) < big(seen.first)) first.set(key, m);
      }
    }
    const topics = [...new Set([...first.values()].map((m) => m.topic))];
    for (const t of topics) this.offsetsLoaded.delete(t);
    for (const t of topics) await this.loadOffsets(t);
    for (const [key, m] of first) {
      const stored = this.committed.get(key) ?? null;
      const mine = this.assigned.some((a) => a.topic === m.topic && a.partition === m.partition);
      if (!mine) continue;
      const target = stored ?? m.first;
      this.positioned.add(key);
      this.seek(m.topic, m.partition, target);
    }
  }

  private async sendToDlq(batch: Pending): Promise<void> {
    const messages = batch.dlq.map((d) => ({
      key: d.key,
      value: d.value,
      headers: {
        ...d.headers,
        'md-dlq-reason': d.reason,
        'md-dlq-error-class': d.errorClass,
        'md-dlq-topic': d.topic,
        'md-dlq-partition': String(d.partition),
        'md-dlq-offset': d.offset,
      },
    }));
    let delay = this.options.retryInitialMs;
    for (;;) {
      try {
        await this.producer!.send({ topic: this.options.dlqTopic, acks: -1, messages });
        for (const d of batch.dlq) this.log.warn({ topic: d.topic, partition: d.partition, offset: d.offset, reason: d.reason, dlq: this.options.dlqTopic }, 'record sent to the dead-letter topic');
        return;
      } catch (err) {
        if (this.stopping) throw err;
        this.log.warn({ dlq: this.options.dlqTopic, err: (err as Error).message, retryInMs: delay }, 'waiting for Kafka to accept dead-letter records');
        await sleep(delay);
        delay = Math.min(delay * 2, this.options.retryMaxMs);
      }
    }
  }

  /** Retries `fn` while the warehouse is unavailable, with backoff and a log line saying what it waits for. */
  private async withWarehouseRetry<T>(what: string, fn: () => Promise<T>, held?: Pending): Promise<T> {
    let delay = this.options.retryInitialMs;
    const since = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await fn();
        if (attempt > 1) this.log.info({ warehouse: this.warehouse!.description, what, attempts: attempt, waitedMs: Date.now() - since }, 'warehouse is back');
        return out;
      } catch (err) {
        // Two loaders creating the same table or view at the same moment: the DDL is idempotent, try again.
        if (held === undefined && err instanceof WarehouseError && /conflict/i.test(err.message) && attempt < 8) {
          this.log.debug({ what, err: err.message }, 'DDL conflict with another loader, retrying');
          await sleep(50 * attempt + Math.floor(Math.random() * 100));
          continue;
        }
        if (!(err instanceof WarehouseUnavailableError)) throw err;
        const waited = Date.now() - since;
        if (this.options.retryTimeoutMs > 0 && waited >= this.options.retryTimeoutMs) {
          throw new WarehouseError(this.warehouse!.description, `still unavailable after ${Math.round(waited / 1000)} s (retryTimeoutMs): ${err.message}`, { cause: err });
        }
        if (this.stopping && (held === undefined || Date.now() > this.stopDeadline)) throw err;
        this.statsData.warehouseRetries++;
        this.log.warn(
          {
            warehouse: this.warehouse!.description,
            err: err.message,
            attempt,
            retryInMs: delay,
            ...(held ? { heldRows: held.rows, heldPartitions: held.moves.size } : {}),
          },
          `waiting for the warehouse to ${what}: ${held ? 'nothing is committed and no offset moves until it succeeds' : 'retrying'}`,
        );
        await sleep(delay);
        await this.heartbeat?.().catch(() => undefined);
        delay = Math.min(delay * 2, this.options.retryMaxMs);
      }
    }
  }

  private caughtUp(stored: Map<string, string | null>): boolean {
    if (!this.targets) return false;
    for (const [key, end] of this.targets) {
      if (big(end) === 0n) continue;
      const next = stored.get(key);
      if (next === undefined || next === null || big(next) < big(end)) return false;
    }
    return true;
  }

  private async checkOnceDone(): Promise<void> {
    if (!this.targets || this.stopping) return;
    if (this.caughtUp(this.committed)) {
      this.log.info({ rows: this.statsData.rowsLoaded, deadLettered: this.statsData.deadLettered }, 'caught up with the end offsets seen at start');
      setImmediate(() => void this.shutdown());
    }
  }

  progress(): LoaderProgress {
    const keys = new Set<string>([...(this.targets?.keys() ?? []), ...this.committed.keys()]);
    let remaining: number | undefined;
    let total: number | undefined;
    const partitions = [...keys].map((k) => {
      const [topic, p] = k.split('\u0000') as [string, string];
      const next = this.committed.get(k) ?? null;
      const end = this.targets?.get(k);
      if (end !== undefined) {
        remaining = (remaining ?? 0) + Math.max(0, Number(big(end) - big(next ?? '0')));
        total = (total ?? 0) + Number(end);
      }
      return { topic, partition: Number(p), next, end };
    });
    return { partitions, rowsLoaded: this.statsData.rowsLoaded, remaining, total };
  }

  private async logProgress(): Promise<void> {
    if (this.stopping || !this.admin) return;
    const now = Date.now();
    const rate = ((this.statsData.rowsLoaded - this.lastLog.rows) * 1000) / Math.max(1, now - this.lastLog.at);
    this.lastLog = { at: now, rows: this.statsData.rowsLoaded };
    const lag: Record<string, number> = {};
    try {
      for (const topic of this.topics) {
        for (const p of await this.admin.fetchTopicOffsets(topic)) {
          const key = offsetKey(topic, p.partition);
          if (!this.assigned.some((a) => a.topic === topic && a.partition === p.partition)) continue;
          lag[`${topic}[${p.partition}]`] = Number(big(p.high) - big(this.committed.get(key) ?? p.low));
        }
      }
    } catch {
      /* lag is best effort */
    }
    this.log.info({ rowsPerSec: Math.round(rate), rowsLoaded: this.statsData.rowsLoaded, lag, deadLettered: this.statsData.deadLettered }, 'loader progress');
  }

  private fail(err: unknown): Error {
    const e = err instanceof Error ? err : new Error(String(err));
    if (!this.fatal) {
      this.fatal = e;
      this.log.error({ err: e.message }, 'loader stopped on an error');
      setImmediate(() => void this.shutdown(e));
    }
    return e;
  }

  private shuttingDown: Promise<void> | undefined;
  private stopDeadline = Number.POSITIVE_INFINITY;
  private shutdown(err?: Error): Promise<void> {
    this.shuttingDown ??= (async () => {
      this.stopDeadline = Date.now() + this.options.shutdownTimeoutMs;
      if (this.flushTimer) clearInterval(this.flushTimer);
      if (this.logTimer) clearInterval(this.logTimer);
      // Finish the open batch (not after a fatal error: nothing past a bad record may move).
      if (this.abandon) {
        await this.locked(async () => {
          this.stopping = true;
          if (this.pending.count > 0) this.log.info({ records: this.pending.count }, 'open batch abandoned');
          release(this.pending);
          this.pending = emptyPending();
          await this.awaitWrite().catch(() => undefined);
        });
      } else if (!this.fatal) {
        await this.locked(async () => {
          this.stopping = true;
          await this.flush('shutdown');
          await this.awaitWrite();
        }).catch((e) => {
          this.fatal ??= e as Error;
          this.log.error({ err: (e as Error).message }, 'could not write the last batch; it will be loaded again on the next start');
        });
      }
      this.stopping = true;
      await this.consumer?.disconnect().catch(() => undefined);
      await this.producer?.disconnect().catch(() => undefined);
      await this.admin?.disconnect().catch(() => undefined);
      await this.catalogue?.close();
      if (this.ownsWarehouse) await this.warehouse?.close().catch(() => undefined);
      this.log.info({ ...this.statsData }, 'loader stopped');
      const failure = err ?? this.fatal;
      this.finish?.(failure);
    })();
    return this.shuttingDown;
  }
}

export function createLoader(options: LoaderOptions, hooks?: LoaderHooks): Loader {
  return new Loader(options, hooks);
}
