import { DuckDBDataChunk, DuckDBInstance, DuckDBVarCharType, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import bindings from '@duckdb/node-bindings';
import { MdError, OffsetConflictError, WarehouseError, WarehouseUnavailableError } from '../../errors.js';
import { checkJsonKey, commentLiteral, quoteIdent, sqlString } from '../naming.js';
import { OFFSETS_TABLE, offsetKey, type BatchWrite, type LoadRow, type RowBuffer, type ViewColumn, type ViewSpec, type Warehouse } from '../types.js';

export interface DuckDbOptions {
  /** The database file (created when missing), or ':memory:'. */
  path: string;
  /**
   * Share one DuckDB instance per path inside this process (several loaders in one process, tests).
   * DuckDB allows one writing process per file; a second process gets a lock error, reported as
   * WarehouseUnavailableError and retried by the loader.
   */
  shared?: boolean;
}

/**
 * The embedded default warehouse: a DuckDB file. Rows are written with DuckDB's appender inside an
 * explicit transaction together with the offsets, so a crash (even SIGKILL) leaves either the whole batch
 * or none of it after DuckDB replays its WAL on the next open.
 */
export class DuckDbWarehouse implements Warehouse {
  readonly kind = 'duckdb';
  readonly description: string;
  private readonly options: DuckDbOptions;
  private instance: DuckDBInstance | undefined;
  private conn: DuckDBConnection | undefined;
  /** One statement sequence at a time on the connection. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: DuckDbOptions) {
    this.options = options;
    this.description = `duckdb:${options.path}`;
  }

  async connect(): Promise<void> {
    await this.serial(async () => {
      await this.connection();
    });
  }

  private async connection(): Promise<DuckDBConnection> {
    if (this.conn) return this.conn;
    try {
      this.instance = this.options.shared ? await DuckDBInstance.fromCache(this.options.path) : await DuckDBInstance.create(this.options.path);
      this.conn = await this.instance.connect();
    } catch (err) {
      this.instance = undefined;
      const msg = (err as Error).message;
      if (/lock|Conflicting lock|resource temporarily unavailable/i.test(msg)) {
        throw new WarehouseUnavailableError(this.description, `the database file is locked by another process (${firstLine(msg)})`, { cause: err });
      }
      throw new WarehouseError(this.description, `cannot open the database: ${firstLine(msg)}`, { cause: err });
    }
    const conn = this.conn;
    try {
      await conn.run(
        `CREATE TABLE IF NOT EXISTS ${quoteIdent(OFFSETS_TABLE)} (GROUP_ID VARCHAR NOT NULL, TOPIC VARCHAR NOT NULL, "PARTITION" INTEGER NOT NULL, NEXT_OFFSET BIGINT NOT NULL, UPDATED_AT TIMESTAMP NOT NULL, PRIMARY KEY (GROUP_ID, TOPIC, "PARTITION"))`,
      );
    } catch (err) {
      // Not connected until the offsets table exists: the next call tries again (the loader retries a
      // catalog conflict with another loader creating it at the same moment).
      conn.closeSync();
      this.conn = undefined;
      throw this.classify(err);
    }
    return conn;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async ensureTable(table: string): Promise<void> {
    await this.exec(`CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (RECORD_METADATA JSON, RECORD_CONTENT JSON)`);
  }

  async ensureView(spec: ViewSpec): Promise<void> {
    const cols = spec.columns.map((c) => `${duckColumnExpr(c)} AS ${quoteIdent(c.name)}`).join(',\n  ');
    await this.exec(
      `CREATE OR REPLACE VIEW ${quoteIdent(spec.view)} AS SELECT\n  ${cols}\nFROM ${quoteIdent(spec.table)}\nWHERE RECORD_METADATA->>'$.event_type' = ${sqlString(spec.eventType)}`,
    );
    // Documentation from the .proto comments, where analysts browse the schema (duckdb_columns(), DBeaver, …).
    if (spec.comment) await this.exec(`COMMENT ON VIEW ${quoteIdent(spec.view)} IS ${commentLiteral(spec.comment, 'duckdb')}`);
    for (const c of spec.columns) {
      if (c.comment) await this.exec(`COMMENT ON COLUMN ${quoteIdent(spec.view)}.${quoteIdent(c.name)} IS ${commentLiteral(c.comment, 'duckdb')}`);
    }
  }

  async readOffsets(group: string, topics: readonly string[]): Promise<Map<string, string>> {
    return this.serial(async () => {
      const c = await this.connection();
      const out = new Map<string, string>();
      if (topics.length === 0) return out;
      const placeholders = topics.map((_, i) => `$${i + 2}`).join(', ');
      const r = await this.wrap(() =>
        c.runAndReadAll(`SELECT TOPIC, "PARTITION", NEXT_OFFSET FROM ${quoteIdent(OFFSETS_TABLE)} WHERE GROUP_ID = $1 AND TOPIC IN (${placeholders})`, [group, ...topics]),
      );
      for (const row of r.getRowObjects()) out.set(offsetKey(String(row.TOPIC), Number(row.PARTITION)), String(row.NEXT_OFFSET));
      return out;
    });
  }

  /** Rows go straight into native data chunks as the loader decodes them (see DuckDbRowBuffer). */
  createRowBuffer(): RowBuffer {
    return new DuckDbRowBuffer(this.chunkPool);
  }

  private readonly chunkPool: DuckDBDataChunk[] = [];

  async writeBatch(batch: BatchWrite): Promise<void> {
    await this.serial(async () => {
      const c = await this.connection();
      await this.wrap(() => c.run('BEGIN TRANSACTION'));
      try {
        for (const t of batch.tables) {
          const { table, buffer } = t;
          // A buffer of this adapter is written from as it is; `rows` is read only for other inputs.
          const rows = buffer instanceof DuckDbRowBuffer ? undefined : t.rows;
          if ((buffer instanceof DuckDbRowBuffer ? buffer.length : rows!.length) === 0) continue;
          quoteIdent(table);
          const appender = await c.createAppender(table);
          try {
            if (buffer instanceof DuckDbRowBuffer) buffer.appendTo(appender);
            else appendRows(appender, rows!);
            appender.flushSync();
          } finally {
            appender.closeSync();
          }
        }
        const conflicts: Array<{ topic: string; partition: number; expected: string | null; found: string | null }> = [];
        const table = quoteIdent(OFFSETS_TABLE);
        for (const m of batch.offsets) {
          const found = await c.runAndReadAll(`SELECT NEXT_OFFSET FROM ${table} WHERE GROUP_ID = $1 AND TOPIC = $2 AND "PARTITION" = $3`, [batch.group, m.topic, m.partition]);
          const rows = found.getRowObjects();
          const current = rows.length === 0 ? null : String(rows[0]!.NEXT_OFFSET);
          if (current !== m.expected) {
            conflicts.push({ topic: m.topic, partition: m.partition, expected: m.expected, found: current });
            continue;
          }
          if (current === null) {
            await c.run(`INSERT INTO ${table} VALUES ($1, $2, $3, CAST($4 AS BIGINT), now()::TIMESTAMP)`, [batch.group, m.topic, m.partition, m.next]);
          } else {
            const u = await c.run(
              `UPDATE ${table} SET NEXT_OFFSET = CAST($4 AS BIGINT), UPDATED_AT = now()::TIMESTAMP WHERE GROUP_ID = $1 AND TOPIC = $2 AND "PARTITION" = $3 AND NEXT_OFFSET = CAST($5 AS BIGINT)`,
              [batch.group, m.topic, m.partition, m.next, m.expected!],
            );
            if (u.rowsChanged !== 1) conflicts.push({ topic: m.topic, partition: m.partition, expected: m.expected, found: null });
          }
        }
        if (conflicts.length > 0) throw new OffsetConflictError(conflicts);
        await c.run('COMMIT');
      } catch (err) {
        await c.run('ROLLBACK').catch(() => undefined);
        if (err instanceof OffsetConflictError) throw err;
        const msg = (err as Error).message ?? String(err);
        // A concurrent transaction on the same offsets row (another loader in this process): the same
        // situation as a compare-and-set miss.
        // (A duplicate key can only come from the offsets table: topic tables have no constraints.)
        if (/conflict|duplicate key/i.test(msg)) {
          throw new OffsetConflictError(batch.offsets.map((m) => ({ topic: m.topic, partition: m.partition, expected: m.expected, found: null })));
        }
        throw this.classify(err);
      }
    });
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    return this.serial(async () => {
      const c = await this.connection();
      const r = await this.wrap(() => c.runAndReadAll(sql));
      return r.getRowObjectsJS() as Record<string, unknown>[];
    });
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      this.conn?.closeSync();
      this.conn = undefined;
      if (!this.options.shared) this.instance?.closeSync();
      this.instance = undefined;
    });
  }

  /** DDL. A catalog conflict with another loader doing the same DDL is a WarehouseError the loader retries. */
  private async exec(sql: string): Promise<void> {
    await this.serial(async () => {
      const c = await this.connection();
      await this.wrap(() => c.run(sql));
    });
  }

  private async wrap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.classify(err);
    }
  }

  private classify(err: unknown): Error {
    if (err instanceof MdError) return err;
    const msg = (err as Error)?.message ?? String(err);
    if (/No space left|disk full|I\/O Error|Could not write/i.test(msg)) {
      return new WarehouseUnavailableError(this.description, firstLine(msg), { cause: err });
    }
    return new WarehouseError(this.description, firstLine(msg), { cause: err });
  }
}

function appendRows(appender: DuckDBAppender, rows: readonly LoadRow[]): void {
  for (const row of rows) {
    appender.appendVarchar(row.metadata);
    appender.appendVarchar(row.content);
    appender.endRow();
  }
}

/** The topic tables' column types: RECORD_METADATA JSON, RECORD_CONTENT JSON (a VARCHAR with the alias JSON). */
const JSON_TYPE = DuckDBVarCharType.create('JSON');
const CHUNK_ROWS = bindings.vector_size();
/** Data chunks kept for reuse per warehouse (each holds CHUNK_ROWS rows; 64 × 2,048 = 131,072 rows). */
const POOL_MAX = 64;

/**
 * A batch's rows of one table in DuckDB data chunks (native memory, CHUNK_ROWS rows each): each row's two
 * strings are copied into the chunk's vectors as the loader decodes them, so the JS strings die young instead
 * of staying alive until the batch commits, and writeBatch appends whole chunks. The chunks are not changed
 * by writing them (a retried write appends them again); release() clears them for reuse by the next batch.
 */
export class DuckDbRowBuffer implements RowBuffer {
  private readonly chunks: DuckDBDataChunk[] = [];
  private metadata: bindings.Vector | undefined;
  private content: bindings.Vector | undefined;
  /** Rows in the last chunk. */
  private inLast = CHUNK_ROWS;
  private count = 0;
  private released = false;

  constructor(private readonly pool: DuckDBDataChunk[]) {}

  add(metadata: string, content: string): void {
    if (this.released) throw new Error('DuckDbRowBuffer: add after release');
    if (this.inLast === CHUNK_ROWS) this.nextChunk();
    bindings.vector_assign_string_element(this.metadata!, this.inLast, metadata);
    bindings.vector_assign_string_element(this.content!, this.inLast, content);
    this.inLast++;
    this.count++;
  }

  get length(): number {
    return this.count;
  }

  private nextChunk(): void {
    const last = this.chunks[this.chunks.length - 1];
    if (last) bindings.data_chunk_set_size(last.chunk, CHUNK_ROWS);
    const chunk = this.pool.pop() ?? DuckDBDataChunk.create([JSON_TYPE, JSON_TYPE]);
    this.chunks.push(chunk);
    this.metadata = bindings.data_chunk_get_vector(chunk.chunk, 0);
    this.content = bindings.data_chunk_get_vector(chunk.chunk, 1);
    this.inLast = 0;
  }

  /** Sets the size of the last (partly filled) chunk; the others were set when they filled up. */
  private seal(): void {
    const last = this.chunks[this.chunks.length - 1];
    if (last) bindings.data_chunk_set_size(last.chunk, this.inLast);
  }

  appendTo(appender: DuckDBAppender): void {
    if (this.released) throw new Error('DuckDbRowBuffer: written after release');
    this.seal();
    for (const chunk of this.chunks) appender.appendDataChunk(chunk);
  }

  toRows(): LoadRow[] {
    this.seal();
    const out: LoadRow[] = [];
    for (const chunk of this.chunks) {
      // A fresh wrapper: DuckDBDataChunk caches its vectors, and pooled chunks are reused.
      const fresh = new DuckDBDataChunk(chunk.chunk);
      const m = fresh.getColumnValues(0);
      const c = fresh.getColumnValues(1);
      for (let i = 0; i < m.length; i++) out.push({ metadata: String(m[i]), content: String(c[i]) });
    }
    return out;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const chunk of this.chunks) {
      if (this.pool.length >= POOL_MAX) break;
      chunk.reset();
      this.pool.push(chunk);
    }
    this.chunks.length = 0;
    this.count = 0;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 500);
}

/** DuckDB expression for one view column: a JSON path read from RECORD_METADATA / RECORD_CONTENT, cast. */
export function duckColumnExpr(c: ViewColumn): string {
  const [root, ...keys] = c.path;
  if (root !== 'RECORD_METADATA' && root !== 'RECORD_CONTENT') throw new WarehouseError('duckdb', `view column ${c.name}: bad root ${String(root)}`);
  const path = sqlString(`$.${keys.map(checkJsonKey).join('.')}`);
  const text = `json_extract_string(${root}, ${path})`;
  switch (c.type) {
    case 'string':
    case 'enum':
    case 'bytes':
      return text;
    case 'int32':
      return `TRY_CAST(${text} AS INTEGER)`;
    case 'int64':
      return `TRY_CAST(${text} AS BIGINT)`;
    case 'uint64':
      return `TRY_CAST(${text} AS UBIGINT)`;
    case 'double':
      return `TRY_CAST(${text} AS DOUBLE)`;
    case 'bool':
      return `TRY_CAST(${text} AS BOOLEAN)`;
    case 'timestamp':
      // ISO-8601 in UTC ('…Z'); kept as TIMESTAMP (UTC, no zone), like Snowflake's TIMESTAMP_NTZ.
      return `TRY_CAST(left(replace(${text}, 'Z', ''), 26) AS TIMESTAMP)`;
    case 'json':
      return `json_extract(${root}, ${path})`;
  }
}
