/**
 * `multidispatch query`: the README's "ask who was hit" step with only what `npm install multidispatch` installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openWarehouse } from '../../src/warehouse/open.js';
import { tempDir } from '../support/loader.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['bin/multidispatch.js', 'query', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('multidispatch query', () => {
  it('prints rows as a table, CSV or JSON; a bad statement is a warehouse error (exit 6); a missing file exit 2', async (t) => {
    const file = join(tempDir(t), 'q.duckdb');
    const w = await openWarehouse(`duckdb:${file}`);
    await w.connect();
    await w.query(`CREATE TABLE PAYMENT_FAILED AS SELECT * FROM (VALUES ('GB', 'u1', 2599::BIGINT), ('GB', 'u2', 100), ('FR, "Paris"', 'u1', NULL)) v(MARKET, USER_ID, AMOUNT)`);
    await w.close();
    const sql = 'SELECT MARKET, count(DISTINCT USER_ID) AS USERS, sum(AMOUNT) AS AMOUNT FROM PAYMENT_FAILED GROUP BY ALL ORDER BY MARKET';

    const table = cli(['--warehouse', `duckdb:${file}`, sql]);
    assert.equal(table.status, 0, table.stderr);
    assert.equal(table.stdout, [
      '| MARKET      | USERS | AMOUNT |',
      '|-------------|-------|--------|',
      '| FR, "Paris" |     1 |        |',
      '| GB          |     2 |   2699 |',
      '(2 rows)', ''].join('\n'));

    const csv = cli(['-w', `duckdb:${file}`, '--format', 'csv', sql]);
    assert.equal(csv.stdout, 'MARKET,USERS,AMOUNT\n"FR, ""Paris""",1,\nGB,2,2699\n');

    const json = cli(['-w', `duckdb:${file}`, '-f', 'json', sql]);
    assert.deepEqual(JSON.parse(json.stdout), [{ MARKET: 'FR, "Paris"', USERS: 1, AMOUNT: null }, { MARKET: 'GB', USERS: 2, AMOUNT: 2699 }]);

    const bad = cli(['-w', `duckdb:${file}`, 'SELECT * FROM NOPE']);
    assert.equal(bad.status, 6, bad.stderr);
    assert.match(bad.stderr, /^multidispatch: duckdb:.*q\.duckdb: Catalog Error: Table with name NOPE does not exist/);

    const missing = cli(['-w', `duckdb:${join(tempDir(t), 'none.duckdb')}`, 'SELECT 1']);
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /no such DuckDB file/);
  });
});
