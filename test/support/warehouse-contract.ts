/**
 * The behaviour every warehouse adapter must have, as node:test tests. Each test opens its own adapter
 * (and cleans it up) through `open`; tables use names unique to the test, so one database can serve all.
 *
 * `options.peer` opens a second adapter on the SAME storage (another session / loader instance); the
 * concurrency test then races two instances, as two loaders would. Without it, it races two calls on one
 * instance.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { IdentifierError, OffsetConflictError } from '../../src/errors.js';
import { ArrayRowBuffer, offsetKey, type BatchWrite, type LoadRow, type RowBuffer, type ViewSpec, type Warehouse } from '../../src/warehouse/types.js';

export interface OpenedWarehouse {
  warehouse: Warehouse;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  peer?: (first: Warehouse) => Promise<OpenedWarehouse>;
  /**
   * SQL for a JSON path as text in this warehouse's dialect. Default (Snowflake):
   * `RECORD_CONTENT:"amount"."amountMinor"::VARCHAR`. DuckDB would pass e.g. `col ->> '$.amount.amountMinor'`.
   */
  jsonText?: (column: 'RECORD_METADATA' | 'RECORD_CONTENT', keys: readonly string[]) => string;
  /**
   * The comment stored on a view column, as this warehouse reports it (SQL returning one row with a column C). Default
   * (Snowflake): information_schema.columns. `null`: the server accepts the statement but keeps no view column
   * comments, so only that the statement ran and broke nothing is checked.
   */
  columnComment?: ((view: string, column: string) => string) | null;
  /** How the stored comment text reads back; fakesnow keeps Snowflake's escape sequences as written. */
  commentReadsBack?: (stored: string) => string;
  /** Passed to each node:test test, e.g. { skip: 'set SNOWFLAKE_ACCOUNT ...' } or a timeout. */
  testOptions?: { skip?: string | boolean; timeout?: number };
}

function uniq(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;
}

function row(eventType: string, offset: number, content: Record<string, unknown>, extra: Record<string, unknown> = {}): LoadRow {
  return {
    metadata: JSON.stringify({ event_type: eventType, event_id: `e-${offset}`, partition: 0, offset: String(offset), occurred_at: '2024-05-06T07:08:09.123Z', ...extra }),
    content: JSON.stringify(content),
  };
}

/** A query value as text: bigint, number, string alike. */
const text = (v: unknown): string => (typeof v === 'bigint' || typeof v === 'number' ? String(v) : String(v));

/** A TIMESTAMP value as epoch milliseconds, whatever the driver returns. */
function epochMs(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string') return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v.replace(' ', 'T')}Z`);
  if (v && typeof v === 'object') {
    const o = v as { micros?: bigint; toString(): string };
    if (typeof o.micros === 'bigint') return Number(o.micros / 1000n);
    return epochMs(o.toString());
  }
  return Number.NaN;
}

/** A JSON / VARIANT column value as text, whether the driver returns text or parsed JSON. */
const asText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)));

const bool = (v: unknown): boolean => (typeof v === 'boolean' ? v : v === 1 || v === '1' || v === 'true' || v === 'TRUE');

async function count(w: Warehouse, table: string): Promise<number> {
  const [r] = await w.query(`SELECT COUNT(*) AS N FROM "${table}"`);
  return Number(text(r!.N));
}

export function warehouseContract(name: string, open: () => Promise<OpenedWarehouse>, options: ContractOptions = {}): void {
  const topts = options.testOptions ?? {};
  const j = options.jsonText ?? ((column, keys) => `${column}:${keys.map((k) => `"${k}"`).join('.')}::VARCHAR`);
  const withWarehouse = async (fn: (w: Warehouse) => Promise<void>) => {
    const { warehouse, cleanup } = await open();
    try {
      await warehouse.connect();
      await fn(warehouse);
    } finally {
      await cleanup();
    }
  };

  test(`${name}: connect is idempotent and ensureTable can run twice`, topts, () =>
    withWarehouse(async (w) => {
      await w.connect();
      const t = uniq('T_TWICE');
      await w.ensureTable(t);
      await w.ensureTable(t);
      assert.equal(await count(w, t), 0);
      const rows = await w.query(`SELECT * FROM "${t}"`);
      assert.deepEqual(rows, []);
    }),
  );

  test(`${name}: writeBatch writes rows and offsets together`, topts, () =>
    withWarehouse(async (w) => {
      const t = uniq('ORDERS');
      const group = uniq('g');
      await w.ensureTable(t);
      const batch: BatchWrite = {
        group,
        tables: [{ table: t, rows: [row('orders.v1.OrderPlaced', 0, { orderId: 'o-1', amount: { amountMinor: '1250' } }), row('orders.v1.OrderPlaced', 1, { orderId: 'o-2', amount: { amountMinor: '99' } })] }],
        offsets: [
          { topic: 'orders.v1', partition: 0, expected: null, next: '2' },
          { topic: 'orders.v1', partition: 1, expected: null, next: '9007199254740993' },
        ],
      };
      await w.writeBatch(batch);
      const offsets = await w.readOffsets(group, ['orders.v1', 'other']);
      assert.equal(offsets.size, 2);
      assert.equal(offsets.get(offsetKey('orders.v1', 0)), '2');
      assert.equal(offsets.get(offsetKey('orders.v1', 1)), '9007199254740993');
      assert.equal((await w.readOffsets(uniq('g'), ['orders.v1'])).size, 0);

      const rows = await w.query(
        `SELECT ${j('RECORD_METADATA', ['event_id'])} AS EVENT_ID, ${j('RECORD_CONTENT', ['orderId'])} AS ORDER_ID, ${j('RECORD_CONTENT', ['amount', 'amountMinor'])} AS AMOUNT FROM "${t}" ORDER BY EVENT_ID`,
      );
      assert.deepEqual(
        rows.map((r) => [r.EVENT_ID, r.ORDER_ID, r.AMOUNT]),
        [
          ['e-0', 'o-1', '1250'],
          ['e-1', 'o-2', '99'],
        ],
      );

      // the next batch moves the offsets on from what is stored
      await w.writeBatch({ group, tables: [{ table: t, rows: [row('orders.v1.OrderPlaced', 2, { orderId: 'o-3' })] }], offsets: [{ topic: 'orders.v1', partition: 0, expected: '2', next: '3' }] });
      assert.equal((await w.readOffsets(group, ['orders.v1'])).get(offsetKey('orders.v1', 0)), '3');
      assert.equal(await count(w, t), 3);
    }),
  );

  test(`${name}: an offset conflict throws OffsetConflictError and writes no rows`, topts, () =>
    withWarehouse(async (w) => {
      const t = uniq('CONFLICT');
      const group = uniq('g');
      await w.ensureTable(t);
      await w.writeBatch({ group, tables: [{ table: t, rows: [row('x.v1.A', 0, { n: 1 })] }], offsets: [{ topic: 'x.v1', partition: 0, expected: null, next: '1' }] });

      // wrong expected
      await assert.rejects(
        w.writeBatch({ group, tables: [{ table: t, rows: [row('x.v1.A', 5, { n: 5 }), row('x.v1.A', 6, { n: 6 })] }], offsets: [{ topic: 'x.v1', partition: 0, expected: '5', next: '7' }] }),
        (err: unknown) => {
          assert.ok(err instanceof OffsetConflictError, `expected OffsetConflictError, got ${String(err)}`);
          assert.deepEqual(err.partitions, [{ topic: 'x.v1', partition: 0, expected: '5', found: '1' }]);
          return true;
        },
      );
      // expected null although a row exists; the other partition's move must not be applied either
      await assert.rejects(
        w.writeBatch({
          group,
          tables: [{ table: t, rows: [row('x.v1.A', 1, { n: 1 })] }],
          offsets: [
            { topic: 'x.v1', partition: 1, expected: null, next: '4' },
            { topic: 'x.v1', partition: 0, expected: null, next: '2' },
          ],
        }),
        (err: unknown) => {
          assert.ok(err instanceof OffsetConflictError, `expected OffsetConflictError, got ${String(err)}`);
          assert.deepEqual(err.partitions, [{ topic: 'x.v1', partition: 0, expected: null, found: '1' }]);
          return true;
        },
      );
      assert.equal(await count(w, t), 1);
      const offsets = await w.readOffsets(group, ['x.v1']);
      assert.deepEqual([...offsets.entries()], [[offsetKey('x.v1', 0), '1']]);
      // the adapter is still usable after the rollbacks
      await w.writeBatch({ group, tables: [{ table: t, rows: [row('x.v1.A', 1, { n: 1 })] }], offsets: [{ topic: 'x.v1', partition: 0, expected: '1', next: '2' }] });
      assert.equal(await count(w, t), 2);
    }),
  );

  test(`${name}: a typed view returns typed values and gains columns`, topts, () =>
    withWarehouse(async (w) => {
      const t = uniq('PAYMENTS');
      const v = uniq('PAYMENT_FAILED');
      await w.ensureTable(t);
      await w.writeBatch({
        group: uniq('g'),
        tables: [
          {
            table: t,
            rows: [
              row('payments.v1.PaymentFailed', 0, { paymentId: 'p-1', amount: { amountMinor: '9007199254740993' }, reason: 'REASON_CARD_DECLINED', retryable: true, failedAt: '2024-05-06T07:08:09.123Z', score: 0.25, attempts: 3 }),
              row('payments.v1.PaymentFailed', 1, { paymentId: 'p-2', amount: { amountMinor: '-5' }, reason: 'REASON_FRAUD', retryable: false, failedAt: '2024-01-01T00:00:00Z', score: 1, attempts: 1 }),
              row('payments.v1.PaymentCaptured', 2, { paymentId: 'p-3' }),
            ],
          },
        ],
        offsets: [],
      });
      const spec: ViewSpec = {
        view: v,
        table: t,
        eventType: 'payments.v1.PaymentFailed',
        columns: [
          { name: 'EVENT_ID', path: ['RECORD_METADATA', 'event_id'], type: 'string' },
          { name: 'KAFKA_OFFSET', path: ['RECORD_METADATA', 'offset'], type: 'int64' },
          { name: 'PAYMENT_ID', path: ['RECORD_CONTENT', 'paymentId'], type: 'string' },
          { name: 'AMOUNT_MINOR', path: ['RECORD_CONTENT', 'amount', 'amountMinor'], type: 'int64' },
          { name: 'REASON', path: ['RECORD_CONTENT', 'reason'], type: 'enum' },
          { name: 'RETRYABLE', path: ['RECORD_CONTENT', 'retryable'], type: 'bool' },
          { name: 'FAILED_AT', path: ['RECORD_CONTENT', 'failedAt'], type: 'timestamp' },
        ],
      };
      await w.ensureView(spec);
      const rows = await w.query(`SELECT * FROM "${v}" ORDER BY EVENT_ID`);
      assert.equal(rows.length, 2, 'only PaymentFailed rows are in the view');
      assert.deepEqual(Object.keys(rows[0]!), spec.columns.map((c) => c.name));
      const [a, b] = rows as [Record<string, unknown>, Record<string, unknown>];
      assert.equal(a.PAYMENT_ID, 'p-1');
      assert.equal(text(a.AMOUNT_MINOR), '9007199254740993');
      assert.equal(text(b.AMOUNT_MINOR), '-5');
      assert.equal(text(a.KAFKA_OFFSET), '0');
      assert.equal(a.REASON, 'REASON_CARD_DECLINED');
      assert.equal(bool(a.RETRYABLE), true);
      assert.equal(bool(b.RETRYABLE), false);
      assert.equal(epochMs(a.FAILED_AT), Date.parse('2024-05-06T07:08:09.123Z'));
      assert.equal(epochMs(b.FAILED_AT), Date.parse('2024-01-01T00:00:00Z'));

      await w.ensureView({ ...spec, columns: [...spec.columns, { name: 'SCORE', path: ['RECORD_CONTENT', 'score'], type: 'double' }, { name: 'ATTEMPTS', path: ['RECORD_CONTENT', 'attempts'], type: 'int32' }] });
      const again = await w.query(`SELECT * FROM "${v}" ORDER BY EVENT_ID`);
      assert.deepEqual(Object.keys(again[0]!), [...spec.columns.map((c) => c.name), 'SCORE', 'ATTEMPTS']);
      assert.equal(Number(again[0]!.SCORE), 0.25);
      assert.equal(Number(again[1]!.SCORE), 1);
      assert.equal(text(again[0]!.ATTEMPTS), '3');
    }),
  );

  test(`${name}: view and column comments hold any documentation text (quotes, */, --, newlines, backslashes)`, topts, () =>
    withWarehouse(async (w) => {
      const t = uniq('DOCS');
      const v = uniq('DOCS_V');
      await w.ensureTable(t);
      await w.writeBatch({ group: uniq('g'), tables: [{ table: t, rows: [row('docs.v1.E', 0, { a: 'x' })] }], offsets: [] });
      const hostile = `it's "quoted" */ -- ; DROP TABLE "${t}"; --\nsecond line\twith a tab and a \\ backslash, ünï 🍕`;
      await w.ensureView({ view: v, table: t, eventType: 'docs.v1.E', comment: `Doc of E: ${hostile}`, columns: [{ name: 'A', path: ['RECORD_CONTENT', 'a'], type: 'string', comment: hostile }] });
      assert.equal(await count(w, t), 1, 'the table is still there');
      const rows = await w.query(`SELECT * FROM "${v}"`);
      assert.equal(rows[0]!.A, 'x');
      if (options.columnComment === null) return;
      const sql = options.columnComment?.(v, 'A') ?? `SELECT comment AS C FROM information_schema.columns WHERE table_name = '${v}' AND column_name = 'A'`;
      const [c] = await w.query(sql);
      const back = options.commentReadsBack ?? ((x: string) => x);
      assert.equal(back(String(c!.C)), hostile);
    }),
  );

  test(`${name}: identifiers that would inject SQL are refused before any SQL runs`, topts, () =>
    withWarehouse(async (w) => {
      const victim = uniq('VICTIM');
      await w.ensureTable(victim);
      const evil = `X"; DROP TABLE ${victim}; --`;
      await assert.rejects(w.ensureTable(evil), IdentifierError);
      await assert.rejects(w.writeBatch({ group: 'g', tables: [{ table: evil, rows: [row('a.v1.B', 0, {})] }], offsets: [] }), IdentifierError);
      await assert.rejects(w.ensureView({ view: evil, table: victim, eventType: 'a.v1.B', columns: [{ name: 'A', path: ['RECORD_CONTENT', 'a'], type: 'string' }] }), IdentifierError);
      await assert.rejects(w.ensureView({ view: 'V_OK', table: victim, eventType: 'a.v1.B', columns: [{ name: evil, path: ['RECORD_CONTENT', 'a'], type: 'string' }] }), IdentifierError);
      await assert.rejects(w.ensureView({ view: 'V_OK', table: victim, eventType: 'a.v1.B', columns: [{ name: 'A', path: ['RECORD_CONTENT', `a"; DROP TABLE ${victim}; --`], type: 'string' }] }), IdentifierError);
      assert.equal(await count(w, victim), 0, 'the victim table still exists');
    }),
  );

  test(`${name}: two concurrent writers with the same expected offset: exactly one wins`, topts, () =>
    withWarehouse(async (w) => {
      const peer = options.peer ? await options.peer(w) : undefined;
      try {
        const w2 = peer?.warehouse ?? w;
        if (peer) await w2.connect();
        const t = uniq('RACE');
        const group = uniq('g');
        await w.ensureTable(t);
        for (const [expected, first] of [
          [null, 0],
          ['10', 10],
        ] as const) {
          if (expected !== null) {
            // move the stored offset to '10' first
            await w.writeBatch({ group, tables: [], offsets: [{ topic: 'race.v1', partition: 0, expected: '2', next: '10' }] });
          }
          const batch = (who: string): BatchWrite => ({
            group,
            tables: [{ table: t, rows: [row('race.v1.E', first, { who }), row('race.v1.E', first + 1, { who })] }],
            offsets: [{ topic: 'race.v1', partition: 0, expected, next: String(first + 2) }],
          });
          const results = await Promise.allSettled([w.writeBatch(batch('A')), w2.writeBatch(batch('B'))]);
          const ok = results.filter((r) => r.status === 'fulfilled');
          const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          assert.equal(ok.length, 1, `exactly one writer must win (expected ${expected}): ${failed.map((f) => String(f.reason)).join('; ')}`);
          assert.ok(failed[0]!.reason instanceof OffsetConflictError, `the loser gets OffsetConflictError, got ${String(failed[0]!.reason)}`);
          const rows = await w.query(`SELECT ${j('RECORD_CONTENT', ['who'])} AS WHO FROM "${t}" WHERE ${j('RECORD_METADATA', ['offset'])} IN ('${first}', '${first + 1}')`);
          assert.equal(rows.length, 2, 'the rows of the batch exist once');
          assert.equal(new Set(rows.map((r) => r.WHO)).size, 1, 'all rows come from the winner');
          assert.equal((await w.readOffsets(group, ['race.v1'])).get(offsetKey('race.v1', 0)), String(first + 2));
        }
      } finally {
        await peer?.cleanup();
      }
    }),
  );

  test(`${name}: rows written from the adapter's row buffer are the rows written as strings (NULLs, unicode, big ints, nesting, > one chunk)`, topts, () =>
    withWarehouse(async (w) => {
      const group = uniq('g');
      const fromRows = uniq('T_ROWS');
      const fromBuffer = uniq('T_BUF');
      const again = uniq('T_AGAIN');
      for (const t of [fromRows, fromBuffer, again]) await w.ensureTable(t);
      const samples: Array<Record<string, unknown>> = [
        { s: null, list: [null, 1, 'x'], nested: { deeper: { v: null } } },
        { text: 'héllo wörld — 日本語 — 😀👩‍👩‍👧 — \u0301e', rtl: 'مرحبا', quote: 'say "hi"\\ back\nslash', nul: 'a\u0000b' },
        { big: '9223372036854775807', neg: '-9223372036854775808', unsafe: 9007199254740993n.toString() },
        { empty: '', emptyObj: {}, emptyList: [], t: true, f: false, n: 0, d: -12.5e-3 },
      ];
      const n = 2100; // more than one DuckDB data chunk (2,048 rows)
      const rows: LoadRow[] = [];
      for (let i = 0; i < n; i++) rows.push(row('x.v1.A', i, { i, ...samples[i % samples.length] }, i % 7 === 0 ? { key: null, headers: { 'md-ü': `v${i}` } } : {}));
      // Big integers as JSON numbers in the text (not representable as a double): kept as written.
      rows.push({ metadata: '{"offset":9007199254740993,"partition":0,"event_id":"e-big"}', content: '{"amount":12345678901234567890,"x":null}' });
      const buffer: RowBuffer = w.createRowBuffer?.(fromBuffer) ?? new ArrayRowBuffer();
      for (const r of rows) buffer.add(r.metadata, r.content);
      assert.equal(buffer.length, rows.length);
      assert.deepEqual(buffer.toRows(), rows);
      const tableOf = (table: string) => ({ table, buffer, get rows() { return buffer.toRows(); } });
      await w.writeBatch({ group, tables: [{ table: fromRows, rows }], offsets: [] });
      await w.writeBatch({ group, tables: [tableOf(fromBuffer)], offsets: [{ topic: 'x.v1', partition: 0, expected: null, next: String(rows.length) }] });
      // A write leaves the buffer as it was (a retried write sends it again).
      await w.writeBatch({ group, tables: [tableOf(again)], offsets: [] });
      assert.deepEqual(buffer.toRows(), rows);
      buffer.release();
      const dump = (t: string) =>
        w.query(`SELECT RECORD_METADATA AS M, RECORD_CONTENT AS C FROM "${t}"`).then((rs) => rs.map((r) => `${asText(r.M)}\u0001${asText(r.C)}`).sort());
      const expected = await dump(fromRows);
      assert.equal(expected.length, rows.length);
      assert.deepEqual(await dump(fromBuffer), expected);
      assert.deepEqual(await dump(again), expected);
      assert.equal((await w.readOffsets(group, ['x.v1'])).get(offsetKey('x.v1', 0)), String(rows.length));

      // A buffer after a release (DuckDB reuses the chunks): only its own rows.
      const second = uniq('T_SECOND');
      await w.ensureTable(second);
      const small = w.createRowBuffer?.(second) ?? new ArrayRowBuffer();
      small.add(rows[1]!.metadata, rows[1]!.content);
      assert.deepEqual(small.toRows(), [rows[1]]);
      await w.writeBatch({ group, tables: [{ table: second, buffer: small, get rows() { return small.toRows(); } }], offsets: [] });
      small.release();
      assert.deepEqual(await dump(second), [expected.find((x) => x.includes('"e-1"'))]);
    }),
  );
}
