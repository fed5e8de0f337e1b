import { OptionsError } from '../errors.js';
import type { Warehouse } from './types.js';

/**
 * Opens a warehouse from the loader's spec: `'duckdb:PATH'`, `{ type: 'duckdb', path, shared? }`, or
 * `'snowflake'` / `{ type: 'snowflake', ...options }` (missing Snowflake options are read from SNOWFLAKE_*).
 * Drivers are imported only when used. Call `connect()` before use and `close()` after.
 *
 * @example
 * const w = await openWarehouse('duckdb:events.duckdb');
 * await w.connect();
 * console.log(await w.query('SELECT MARKET, count(*) AS n FROM PAYMENT_FAILED GROUP BY MARKET'));
 * await w.close();
 */
export async function openWarehouse(
  spec: string | { type: 'duckdb'; path: string; shared?: boolean } | ({ type: 'snowflake' } & Record<string, unknown>) | LakeSpec,
): Promise<Warehouse> {
  if ((typeof spec === 'string' && spec.startsWith('lake:')) || (typeof spec === 'object' && spec.type === 'lake')) {
    const lake: LakeSpec = typeof spec === 'string' ? { type: 'lake', location: spec.slice('lake:'.length) } : (spec as LakeSpec);
    return openLake(lake);
  }
  if (typeof spec === 'string' && spec.startsWith('duckdb:') && spec.length > 'duckdb:'.length) {
    const { DuckDbWarehouse } = await import('./duckdb/warehouse.js');
    return new DuckDbWarehouse({ path: spec.slice('duckdb:'.length) });
  }
  if (typeof spec === 'object' && spec.type === 'duckdb') {
    const { DuckDbWarehouse } = await import('./duckdb/warehouse.js');
    return new DuckDbWarehouse({ path: spec.path, shared: spec.shared ?? false });
  }
  if (spec === 'snowflake' || (typeof spec === 'object' && spec.type === 'snowflake')) {
    const { SnowflakeWarehouse } = await import('./snowflake/warehouse.js');
    const { snowflakeOptionsFromEnv } = await import('./snowflake/options.js');
    const given: Record<string, unknown> = typeof spec === 'object' ? { ...spec } : {};
    delete given.type;
    return new SnowflakeWarehouse(snowflakeOptionsFromEnv(process.env, given as never));
  }
  throw new OptionsError('warehouse', "must be 'duckdb:PATH', { type: 'duckdb', path }, 'snowflake', { type: 'snowflake', ... }, 'lake:DIR' or 'lake:s3://bucket/prefix'");
}

/** The lake: Parquet files under a directory or an S3 prefix (docs/lake.md). */
export interface LakeSpec {
  type: 'lake';
  /** A directory, or s3://bucket/prefix. */
  location: string;
  /** S3 settings beyond the standard AWS environment variables and config file. */
  s3?: { endpoint?: string; region?: string; forcePathStyle?: boolean; conditionalWrites?: boolean; stagingDir?: string };
  compression?: 'zstd' | 'snappy' | 'gzip' | 'uncompressed';
  rowGroupSize?: number;
}

/** Parses `s3://bucket/prefix` (bucket names as S3 allows them). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new OptionsError('warehouse', `'lake:${url}': an S3 location is s3://bucket/prefix with a valid bucket name (lower-case letters, digits, dots, hyphens)`);
  return { bucket: m[1]!, prefix: (m[2] ?? '').replace(/\/+$/, '') };
}

async function openLake(spec: LakeSpec): Promise<Warehouse> {
  const { LakeWarehouse } = await import('./lake/warehouse.js');
  const location = spec.location.trim();
  if (location === '') throw new OptionsError('warehouse', "'lake:' needs a directory or s3://bucket/prefix, e.g. lake:./lake");
  let store;
  if (location.startsWith('s3://')) {
    const { S3LakeStore } = await import('./lake/s3.js');
    store = new S3LakeStore({ ...parseS3Url(location), ...(spec.s3 ?? {}) });
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new OptionsError('warehouse', `'lake:${location}': only a directory or s3://bucket/prefix is supported`);
  } else {
    const { FsLakeStore } = await import('./lake/store.js');
    store = new FsLakeStore(location);
  }
  return new LakeWarehouse({ store, ...(spec.compression ? { compression: spec.compression } : {}), ...(spec.rowGroupSize ? { rowGroupSize: spec.rowGroupSize } : {}) });
}
