/**
 * The Snowflake adapter against a real fakesnow server (test/support/fakesnow.ts), through the real
 * snowflake-sdk over HTTP: the warehouse contract, then a server stop/restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OptionsError, WarehouseError, WarehouseUnavailableError } from '../../src/errors.js';
import { parseSnowflakeOptions, snowflakeOptionsFromEnv } from '../../src/warehouse/snowflake/options.js';
import { SnowflakeWarehouse } from '../../src/warehouse/snowflake/warehouse.js';
import { offsetKey } from '../../src/warehouse/types.js';
import { startFakesnow, type FakesnowServer } from '../support/fakesnow.js';
import { warehouseContract } from '../support/warehouse-contract.js';

let server: FakesnowServer;
let dbPath: string;

before(async () => {
  dbPath = mkdtempSync(join(tmpdir(), 'md-fakesnow-'));
  server = await startFakesnow({ dbPath });
});

after(async () => {
  await server?.stop();
  if (dbPath) rmSync(dbPath, { recursive: true, force: true });
});

const open = async () => {
  const warehouse = new SnowflakeWarehouse(server.connectionOptions);
  return { warehouse, cleanup: () => warehouse.close() };
};

// fakesnow accepts ALTER VIEW … ALTER COLUMN … COMMENT but keeps no view column comments: the contract checks that the
// statements run with hostile text and break nothing; reading the comment back is checked on DuckDB and a real account.
warehouseContract('snowflake (fakesnow)', open, { peer: () => open(), columnComment: null });

test('snowflake options: errors name the option and never echo secrets', () => {
  const base = { account: 'acme-prod', username: 'loader', database: 'ANALYTICS', schema: 'EVENTS' };
  assert.throws(() => parseSnowflakeOptions(base), (e: unknown) => e instanceof OptionsError && e.optionPath === 'snowflake.password');
  assert.throws(
    () => parseSnowflakeOptions({ ...base, authenticator: 'SNOWFLAKE_JWT', privateKey: 'hunter2-not-a-pem' }),
    (e: unknown) => e instanceof OptionsError && e.optionPath === 'snowflake.privateKey' && !e.message.includes('hunter2'),
  );
  assert.throws(() => parseSnowflakeOptions({ ...base, password: 's3cret!', bogus: 1 }), (e: unknown) => e instanceof OptionsError && e.optionPath === 'snowflake.bogus' && !e.message.includes('s3cret'));
  assert.throws(() => parseSnowflakeOptions({ ...base, password: 's3cret!', schema: 'EV"IL' }), (e: unknown) => e instanceof OptionsError && e.optionPath === 'snowflake.schema');

  const env = snowflakeOptionsFromEnv({
    SNOWFLAKE_ACCOUNT: 'acme-prod',
    SNOWFLAKE_USER: 'loader',
    SNOWFLAKE_DATABASE: 'ANALYTICS',
    SNOWFLAKE_SCHEMA: 'EVENTS',
    SNOWFLAKE_ROLE: 'LOADER_ROLE',
    SNOWFLAKE_WAREHOUSE: 'LOAD_WH',
    SNOWFLAKE_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----',
    SNOWFLAKE_PASSWORD: 'ignored-when-a-key-is-set',
  });
  assert.equal(env.authenticator, 'SNOWFLAKE_JWT');
  assert.equal(env.password, undefined);
  assert.match(env.privateKey!, /^-----BEGIN PRIVATE KEY-----\nMIIB\n/);
  assert.equal(env.role, 'LOADER_ROLE');
  const w = new SnowflakeWarehouse({ ...base, password: 's3cret!' });
  assert.equal(w.kind, 'snowflake');
  assert.equal(w.description, 'snowflake:acme-prod/ANALYTICS/EVENTS');
  assert.ok(!JSON.stringify(w.description).includes('s3cret'));
});

test('snowflake (fakesnow): a SQL error is a WarehouseError, not unavailability', async () => {
  const { warehouse, cleanup } = await open();
  try {
    await warehouse.connect();
    await assert.rejects(warehouse.query('SELECT * FROM "NO_SUCH_TABLE_XYZ"'), (e: unknown) => e instanceof WarehouseError && /NO_SUCH_TABLE_XYZ/.test(e.message));
    assert.deepEqual(await warehouse.query('SELECT 1 AS "ONE"'), [{ ONE: 1 }]);
  } finally {
    await cleanup();
  }
});

test('snowflake (fakesnow): server stopped → WarehouseUnavailableError; restarted → reconnects and the data is still there', async () => {
  const { warehouse, cleanup } = await open();
  try {
    await warehouse.connect();
    await warehouse.ensureTable('RESTART_T');
    await warehouse.writeBatch({
      group: 'restart-g',
      tables: [{ table: 'RESTART_T', rows: [{ metadata: '{"event_type":"r.v1.E","offset":"0"}', content: '{"n":1}' }] }],
      offsets: [{ topic: 'r.v1', partition: 0, expected: null, next: '1' }],
    });

    await server.stop();
    const t0 = Date.now();
    await assert.rejects(
      warehouse.writeBatch({
        group: 'restart-g',
        tables: [{ table: 'RESTART_T', rows: [{ metadata: '{"event_type":"r.v1.E","offset":"1"}', content: '{"n":2}' }] }],
        offsets: [{ topic: 'r.v1', partition: 0, expected: '1', next: '2' }],
      }),
      (e: unknown) => e instanceof WarehouseUnavailableError && e.retriable,
    );
    await assert.rejects(warehouse.readOffsets('restart-g', ['r.v1']), WarehouseUnavailableError);
    const downMs = Date.now() - t0;

    await server.restart();
    // same port, same dbPath: the next call logs in again and sees the rows written before the stop
    const offsets = await warehouse.readOffsets('restart-g', ['r.v1']);
    assert.equal(offsets.get(offsetKey('r.v1', 0)), '1');
    const [r] = await warehouse.query('SELECT COUNT(*) AS N FROM "RESTART_T"');
    assert.equal(r!.N, 1);
    await warehouse.writeBatch({
      group: 'restart-g',
      tables: [{ table: 'RESTART_T', rows: [{ metadata: '{"event_type":"r.v1.E","offset":"1"}', content: '{"n":2}' }] }],
      offsets: [{ topic: 'r.v1', partition: 0, expected: '1', next: '2' }],
    });
    assert.equal((await warehouse.readOffsets('restart-g', ['r.v1'])).get(offsetKey('r.v1', 0)), '2');
    assert.ok(downMs < 60_000, `unavailability is reported within the deadlines (took ${downMs} ms)`);
  } finally {
    await cleanup();
  }
});
