/**
 * The DuckDB adapter against the warehouse contract (test/support/warehouse-contract.ts): a real DuckDB file,
 * a second adapter on the same file in this process as the "other loader instance".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { DuckDbWarehouse } from '../../src/warehouse/duckdb/warehouse.js';
import { warehouseContract } from '../support/warehouse-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'md-duckdb-contract-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'contract.duckdb');

const open = async () => {
  const warehouse = new DuckDbWarehouse({ path, shared: true });
  return { warehouse, cleanup: () => warehouse.close() };
};

warehouseContract('duckdb', open, {
  peer: () => open(),
  jsonText: (column, keys) => `json_extract_string(${column}, '$.${keys.join('.')}')`,
  columnComment: (view, column) => `SELECT comment AS C FROM duckdb_columns() WHERE table_name = '${view}' AND column_name = '${column}'`,
});
