import type protobuf from 'protobufjs';
import type { Logger } from '../log.js';
/**
 * The warehouse port: what the loader needs from a warehouse. Two adapters implement it, DuckDB
 * (src/warehouse/duckdb, the embedded default) and Snowflake (src/warehouse/snowflake); they are the only
 * modules that import their drivers.
 *
 * Table layout (the same as Snowflake's Kafka connector): one table per topic with two columns,
 * RECORD_METADATA and RECORD_CONTENT, both JSON (DuckDB `JSON`, Snowflake `VARIANT`). Offsets live in one
 * table, MULTIDISPATCH_OFFSETS, written in the same transaction as the rows.
 */

/** One row of a topic table: both columns as JSON text (the adapter parses them into JSON / VARIANT). */
export interface LoadRow {
  metadata: string;
  content: string;
}

/**
 * The offset move of one partition in a batch. `expected` is the NEXT_OFFSET the loader read from the
 * warehouse (null: no row yet); the write succeeds only if the stored value still equals it, so two
 * loader instances that both believe they own a partition can never both commit the same records.
 */
export interface OffsetMove {
  topic: string;
  partition: number;
  expected: string | null;
  next: string;
  /** The first offset of the partition's records in this batch (the lake names its files by first..next-1). */
  first?: string;
}

/** What the loader knows of a row besides its JSON (the lake partitions its files by it; other adapters ignore it). */
export interface RowInfo {
  topic: string;
  /** The fully qualified event type (the md-event-type header). */
  eventType: string;
  partition: number;
  offset: string;
  /** The md-occurred-at header (ISO-8601), when present. */
  occurredAt: string | undefined;
  /** The Kafka record timestamp, ms since the epoch, as a decimal string (may be empty). */
  timestamp: string;
}

/**
 * The rows of one table in the batch the loader is building, added as they are decoded. A warehouse can hand
 * out its own implementation (Warehouse.createRowBuffer) to keep the rows in the form it writes them in:
 * DuckDB's keeps them in native data chunks, so a batch of row strings is not kept alive on the JS heap.
 */
export interface RowBuffer {
  /** The buffer uses `info` (the lake's); others are not given one, so no object is made per row for them. */
  readonly wantsInfo?: boolean;
  add(metadata: string, content: string, info?: RowInfo): void;
  readonly length: number;
  /** The rows as strings, in the order added. */
  toRows(): LoadRow[];
  /** The batch was committed or dropped: the buffer may free or reuse what it holds; it is not used again. */
  release(): void;
}

/** The default RowBuffer: an array of row strings. */
export class ArrayRowBuffer implements RowBuffer {
  private readonly rows: LoadRow[] = [];
  add(metadata: string, content: string): void {
    this.rows.push({ metadata, content });
  }
  get length(): number {
    return this.rows.length;
  }
  toRows(): LoadRow[] {
    return this.rows;
  }
  release(): void {
    this.rows.length = 0;
  }
}

/** The rows of one table in a BatchWrite. */
export interface TableRows {
  /** An already validated table name. */
  table: string;
  rows: readonly LoadRow[];
  /** The loader's buffer the rows come from (`rows` reads it): an adapter that created it writes from it directly. */
  buffer?: RowBuffer;
}

export interface BatchWrite {
  /** The consumer group: offsets are stored per (group, topic, partition). */
  group: string;
  /** Rows per (already validated) table name. */
  tables: ReadonlyArray<TableRows>;
  offsets: readonly OffsetMove[];
}

/** Column types of a typed view. */
export type ViewColumnType = 'string' | 'int32' | 'int64' | 'uint64' | 'double' | 'bool' | 'timestamp' | 'enum' | 'bytes' | 'json';

export interface ViewColumn {
  /** Column name, a validated upper-case identifier. */
  name: string;
  /** Where the value is: ['RECORD_CONTENT', 'amount', 'amountMinor'] or ['RECORD_METADATA', 'event_id']. */
  path: readonly string[];
  type: ViewColumnType;
  /** The field's documentation (its .proto comment), written as the column's comment. */
  comment?: string;
}

/** A typed view over one event type's rows in its topic table. */
export interface ViewSpec {
  view: string;
  table: string;
  eventType: string;
  columns: readonly ViewColumn[];
  /** The event type's documentation (its message comment), written as the view's comment. */
  comment?: string;
  /** The event type's protobuf message (the lake types its Parquet columns from it). */
  messageType?: protobuf.Type;
}

export interface Warehouse {
  /** 'duckdb', 'snowflake' or 'lake' (used in logs and errors). */
  readonly kind: string;
  /**
   * The adapter needs every loaded event type's schema (ensureView with `messageType`) whether or not typed views
   * were asked for: the lake writes typed Parquet columns.
   */
  readonly needsEventTypes?: boolean;
  /** A description without secrets, e.g. `duckdb:/data/events.duckdb`. */
  readonly description: string;
  /** Connects and creates the schema objects the loader needs (the offsets table). Retries are the caller's. */
  connect(): Promise<void>;
  /** Where the adapter may log (the loader's logger); optional. */
  useLogger?(log: Logger): void;
  /** Creates the topic table when missing (RECORD_METADATA, RECORD_CONTENT). */
  ensureTable(table: string): Promise<void>;
  /** Creates or replaces a typed view. */
  ensureView(view: ViewSpec): Promise<void>;
  /**
   * NEXT_OFFSET per `${topic}\u0000${partition}` for the group and topics (absent: nothing loaded yet). `owned`: the
   * partitions this loader is assigned now; the lake cleans up their unfinished writes (files of a batch that never
   * committed) before answering.
   */
  readOffsets(group: string, topics: readonly string[], owned?: ReadonlyArray<{ topic: string; partition: number }>): Promise<Map<string, string>>;
  /**
   * Optional: a buffer for the rows of `table` in the batch being built (after ensureTable). writeBatch gets
   * it back as `tables[i].buffer`, may be called more than once with it (retries), and must leave it intact.
   */
  createRowBuffer?(table: string): RowBuffer;
  /**
   * Writes every row and every offset move in ONE transaction. Throws OffsetConflictError (nothing written)
   * when a stored offset differs from `expected`, WarehouseUnavailableError when the warehouse cannot be
   * reached (nothing written, retry), WarehouseError otherwise.
   */
  writeBatch(batch: BatchWrite): Promise<void>;
  /** Runs a read query (tests, the demo, docs). Values come back as the driver returns them. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export const OFFSETS_TABLE = 'MULTIDISPATCH_OFFSETS';

export function offsetKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
