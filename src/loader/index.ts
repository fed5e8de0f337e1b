/** The loader: Kafka topics → warehouse (DuckDB by default, Snowflake), exactly once. `import … from 'multidispatch/loader'`. */
export { createLoader, type Loader, type LoaderStats, type LoaderProgress, type LoaderHooks } from './loader.js';
export type { LoaderOptions } from './options.js';
export { openWarehouse } from '../warehouse/open.js';
export type { Warehouse, LoadRow, BatchWrite, OffsetMove, ViewSpec, ViewColumn, RowBuffer, TableRows } from '../warehouse/types.js';
export { ArrayRowBuffer } from '../warehouse/types.js';
export { tableNameForTopic, viewNameForEvent } from '../warehouse/naming.js';
