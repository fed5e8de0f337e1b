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
export async function openWarehouse(spec: string | { type: 'duckdb'; path: string; shared?: boolean } | ({ type: 'snowflake' } & Record<string, unknown>)): Promise<Warehouse> {
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
  throw new OptionsError('warehouse', "must be 'duckdb:PATH', { type: 'duckdb', path }, 'snowflake' or { type: 'snowflake', ... }");
}
