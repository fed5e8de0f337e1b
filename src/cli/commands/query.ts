import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { EXIT_CODES_HELP, UsageError, WarehouseError } from '../../errors.js';
import { openWarehouse } from '../../warehouse/open.js';

interface QueryFlags {
  warehouse?: string;
  format: 'table' | 'csv' | 'json';
  config?: string;
}

/** A cell as text: bigint and numbers as written, dates as ISO 8601, objects as JSON, null as empty (table, CSV). */
function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return v;
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}

/** A boxed table, numbers right-aligned; long cells are kept whole (pipe to `less -S` for wide results). */
export function renderTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '(0 rows)\n';
  const cols = Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => text(r[c])));
  const numeric = cols.map((c) => rows.every((r) => r[c] === null || typeof r[c] === 'number' || typeof r[c] === 'bigint'));
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => (numeric[i] ? v.padStart(width[i]!) : v.padEnd(width[i]!))).join(' | ')} |`;
  const rule = `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return `${[line(cols), rule, ...cells.map(line)].join('\n')}\n(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
}

export function renderCsv(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  const esc = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return `${[cols.map(esc).join(','), ...rows.map((r) => cols.map((c) => esc(text(r[c]))).join(','))].join('\n')}\n`;
}

export function renderJson(rows: readonly Record<string, unknown>[]): string {
  return `${JSON.stringify(rows, (_k, x: unknown) => (typeof x === 'bigint' ? (Number.isSafeInteger(Number(x)) ? Number(x) : x.toString()) : x), 2)}\n`;
}

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('Run one SQL statement against the warehouse the loader writes (a DuckDB file, or Snowflake) and print the rows.')
    .argument('<sql>', 'the statement, e.g. "SELECT MARKET, count(DISTINCT USER_ID) FROM PAYMENT_FAILED GROUP BY ALL"')
    .option('-w, --warehouse <spec>', "'duckdb:PATH' (default: $MULTIDISPATCH_WAREHOUSE, then duckdb:multidispatch.duckdb) or 'snowflake' (connection from $SNOWFLAKE_*)")
    .addOption(new Option('-f, --format <format>', 'how rows are printed').choices(['table', 'csv', 'json']).default('table'))
    .option('--config <file.json>', 'JSON file with the shared settings and a "query" object of these options')
    .addHelpText('after', `
Environment: MULTIDISPATCH_WAREHOUSE; for Snowflake the SNOWFLAKE_* variables of \`multidispatch load\`.

Examples:
  multidispatch query --warehouse duckdb:events.duckdb "SELECT MARKET, PLATFORM, count(DISTINCT USER_ID) AS USERS FROM PAYMENT_FAILED GROUP BY ALL"
  multidispatch query -w duckdb:events.duckdb -f csv "SELECT * FROM ORDER_PLACED LIMIT 100" > orders.csv

${EXIT_CODES_HELP}`)
    .action(async (sql: string, flags: QueryFlags) => {
      const spec = flags.warehouse ?? process.env.MULTIDISPATCH_WAREHOUSE ?? 'duckdb:multidispatch.duckdb';
      if (spec.startsWith('duckdb:') && !existsSync(spec.slice('duckdb:'.length))) {
        throw new UsageError(`--warehouse ${spec}: no such DuckDB file (load something into it first: multidispatch load --warehouse ${spec} …)`);
      }
      if (!sql.trim()) throw new UsageError('the SQL statement is empty');
      const warehouse = await openWarehouse(spec);
      try {
        await warehouse.connect();
        let rows: Record<string, unknown>[];
        try {
          rows = await warehouse.query(sql);
        } catch (err) {
          throw err instanceof WarehouseError ? err : new WarehouseError(warehouse.description, (err as Error).message.split('\n')[0]!, { cause: err });
        }
        process.stdout.write(flags.format === 'json' ? renderJson(rows) : flags.format === 'csv' ? renderCsv(rows) : renderTable(rows));
      } finally {
        await warehouse.close();
      }
    });
}
