/**
 * The warehouse contract against a REAL Snowflake account, when SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER,
 * SNOWFLAKE_DATABASE and a credential (SNOWFLAKE_PASSWORD, or SNOWFLAKE_PRIVATE_KEY / _PATH) are set;
 * otherwise every test is skipped. Each run uses its own schema (MD_TEST_<random>), dropped afterwards.
 */
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { hasSnowflakeEnv, snowflakeOptionsFromEnv } from '../../src/warehouse/snowflake/options.js';
import { SnowflakeWarehouse } from '../../src/warehouse/snowflake/warehouse.js';
import { warehouseContract } from '../support/warehouse-contract.js';

const enabled = hasSnowflakeEnv();
const skip = enabled
  ? undefined
  : 'real Snowflake not configured: set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_DATABASE and SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH (or SNOWFLAKE_PRIVATE_KEY), optionally SNOWFLAKE_ROLE, SNOWFLAKE_WAREHOUSE, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE, SNOWFLAKE_ACCESS_URL';

const schema = `MD_TEST_${randomUUID().replace(/-/g, '').slice(0, 12).toUpperCase()}`;
const options = () => snowflakeOptionsFromEnv(process.env, { schema, statementTimeoutMs: 120_000, loginTimeoutMs: 60_000 });
const open = async () => {
  const warehouse = new SnowflakeWarehouse(options());
  return { warehouse, cleanup: () => warehouse.close() };
};

if (enabled) {
  after(async () => {
    const w = new SnowflakeWarehouse(options());
    try {
      await w.connect();
      await w.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await w.close();
    }
  });
}

warehouseContract('snowflake (real account)', open, { peer: () => open(), testOptions: { ...(skip ? { skip } : {}), timeout: 300_000 } });
