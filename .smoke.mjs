import sf from 'snowflake-sdk';
sf.configure({ logLevel: 'ERROR' });
const c = sf.createConnection({ account: 'fakesnow', username: 'fake', password: 'snow', accessUrl: 'http://127.0.0.1:18123', database: 'DB1', schema: 'S1' });
await new Promise((res, rej) => c.connect((e) => (e ? rej(e) : res())));
const q = (sqlText, binds) => new Promise((res, rej) => c.execute({ sqlText, binds, complete: (e, st, rows) => (e ? rej(e) : res(rows)) }));
for (const s of [
  'CREATE SCHEMA IF NOT EXISTS "S1"', 'USE SCHEMA "S1"',
  'CREATE TABLE IF NOT EXISTS "T" (RECORD_METADATA VARIANT, RECORD_CONTENT VARIANT)',
  `INSERT INTO "T" SELECT PARSE_JSON('{"a":1}'), PARSE_JSON('{"b":"9007199254740993"}')`,
  `SELECT RECORD_METADATA:a::NUMBER AS A, RECORD_CONTENT:"b"::VARCHAR AS B, RECORD_CONTENT:b::NUMBER AS N, TRUE AS T, '2024-01-02T03:04:05.123Z'::TIMESTAMP_NTZ AS TS, 1.5::FLOAT AS F, RECORD_CONTENT FROM "T"`,
]) { try { console.log(s.slice(0,60), JSON.stringify(await q(s))); } catch (e) { console.log('ERR', s.slice(0,60), e.message, e.code); } }
c.destroy(() => {});
