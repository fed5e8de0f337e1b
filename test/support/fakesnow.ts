/**
 * A real fakesnow server (PyPI `fakesnow`, a Snowflake-protocol HTTP server on DuckDB) for the Snowflake
 * adapter's tests, driven by the real snowflake-sdk.
 *
 * fakesnow is installed with pip into a cached venv, ~/.cache/multidispatch/fakesnow-<version>/, created
 * with `python3 -m venv` when missing. The versions are pinned: fakesnow 0.12.1 does not run with
 * snowflake-connector-python 5 (no `snowflake.connector.converter`), so the connector is pinned to 4.8.1.
 *
 * The server is started through test/support/fakesnow_server.py (see its header: persistence to a
 * directory of DuckDB files, JSON result sets for the Node driver, DuckDB errors as SQL errors).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SnowflakeOptionsInput } from '../../src/warehouse/snowflake/options.js';

export const FAKESNOW_VERSION = '0.12.1';
/** Exact versions installed into the venv (resolved and verified together on this machine). */
const PIP_REQUIREMENTS = [
  `fakesnow[server]==${FAKESNOW_VERSION}`,
  'snowflake-connector-python==4.8.1',
  'duckdb==2.0.0',
  'sqlglot==30.22.0',
  'pyarrow==26.0.1',
  'starlette==1.10.0',
  'uvicorn==0.54.0',
];

const here = dirname(fileURLToPath(import.meta.url));
const LAUNCHER = join(here, 'fakesnow_server.py');

export interface FakesnowServer {
  host: string;
  port: number;
  accessUrl: string;
  /** Options for SnowflakeWarehouse (password auth, short timeouts). */
  connectionOptions: SnowflakeOptionsInput;
  /** Where the DuckDB files live (one per database), when persisted. */
  dbPath: string | undefined;
  logFile: string;
  stop(): Promise<void>;
  /** Stops (if running) and starts again on the same port with the same dbPath. */
  restart(): Promise<void>;
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** The venv's python, installing fakesnow first when the venv is missing or incomplete. */
export function fakesnowPython(): string {
  const venv = join(homedir(), '.cache', 'multidispatch', `fakesnow-${FAKESNOW_VERSION}`);
  const python = join(venv, 'bin', 'python');
  const marker = join(venv, '.installed');
  const wanted = PIP_REQUIREMENTS.join('\n');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted && existsSync(python)) return python;
  mkdirSync(dirname(venv), { recursive: true });
  if (!existsSync(python)) {
    const r = spawnSync('python3', ['-m', 'venv', venv], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python3 -m venv ${venv} failed (status ${r.status}):\n${tail(`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ?? ''}`)}`);
  }
  const r = spawnSync(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', ...PIP_REQUIREMENTS], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`pip install of fakesnow ${FAKESNOW_VERSION} into ${venv} failed (status ${r.status}):\n${tail(`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ?? ''}`)}`);
  writeFileSync(marker, wanted);
  return python;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True once the server answers HTTP (any status) on the port. */
async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/session`, { method: 'POST', signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

export async function startFakesnow(opts: { dbPath?: string; database?: string; schema?: string } = {}): Promise<FakesnowServer> {
  const python = fakesnowPython();
  const host = '127.0.0.1';
  const port = await freePort();
  const accessUrl = `http://${host}:${port}`;
  const logDir = join(tmpdir(), 'multidispatch-fakesnow');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `fakesnow-${port}.log`);
  rmSync(logFile, { force: true });
  if (opts.dbPath) mkdirSync(opts.dbPath, { recursive: true });
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    const fd = openSync(logFile, 'a');
    const args = [LAUNCHER, '--host', host, '--port', String(port), ...(opts.dbPath ? ['--db-path', opts.dbPath] : [])];
    const c = spawn(python, args, { stdio: ['ignore', fd, fd], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    closeSync(fd);
    child = c;
    let dead = false;
    exited = new Promise((resolve) => c.once('exit', () => ((dead = true), resolve())));
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      if (dead) break;
      if (await answers(accessUrl)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    if (!dead) c.kill('SIGKILL');
    child = undefined;
    throw new Error(`fakesnow ${FAKESNOW_VERSION} did not start on ${accessUrl}${dead ? ` (exit ${c.exitCode})` : ' within 30 s'}; last lines of ${logFile}:\n${tail(log)}`);
  };

  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGTERM');
    const killer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };

  await start();
  return {
    host,
    port,
    accessUrl,
    dbPath: opts.dbPath,
    logFile,
    connectionOptions: {
      account: 'fakesnow',
      username: 'fake',
      password: 'snow',
      database: opts.database ?? 'MULTIDISPATCH_TEST',
      schema: opts.schema ?? 'LOADER',
      accessUrl,
      loginTimeoutMs: 10_000,
      statementTimeoutMs: 5_000,
    },
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
