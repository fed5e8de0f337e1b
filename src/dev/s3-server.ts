/**
 * A real S3-protocol server for development and the lake tests: gofakes3 (MIT licence,
 * github.com/johannesboyne/gofakes3), built from the Go module proxy with `go install` into the tool cache once per
 * version, run on loopback with its bolt backend (objects persist in one file, so a stop and restart keeps them).
 * MinIO's server would do as well but is AGPL; gofakes3 is MIT and builds with the Go toolchain alone.
 *
 * @example
 * const s3 = await startS3Server({ dataDir: '/tmp/s3' });
 * // s3.endpoint, s3.bucket, s3.env (AWS_* for the SDK)
 * await s3.stop();
 */
import { accessSync, constants, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevEnvironmentError } from '../errors.js';
import { freeTcpPorts, LOOPBACK } from './net.js';
import { cacheRoot, sleep } from './paths.js';
import { appendLog, commandExists, isAlive, logTail, runTool, spawnDetached, stopProcess } from './process.js';

export const GOFAKES3_VERSION = 'v1.2.0';
const MODULE = 'github.com/johannesboyne/gofakes3/cmd/gofakes3';

export function gofakes3Version(version?: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = version ?? env.MULTIDISPATCH_GOFAKES3_VERSION ?? GOFAKES3_VERSION;
  if (!/^v\d+\.\d+\.\d+$/.test(v)) throw new DevEnvironmentError(`gofakes3 version '${v}' is not of the form vX.Y.Z`);
  return v;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of the gofakes3 binary, running `GOBIN=<cache> go install <module>@<version>` unless already cached. */
export async function ensureGofakes3(opts: { version?: string; onProgress?: (msg: string) => void } = {}): Promise<string> {
  const version = gofakes3Version(opts.version);
  const dir = join(cacheRoot(), `gofakes3-${version}`);
  const bin = join(dir, 'gofakes3');
  if (isExecutable(bin)) return bin;
  if (!commandExists('go')) throw new DevEnvironmentError(`go was not found on PATH; it builds ${MODULE}@${version} from the Go module proxy`);
  mkdirSync(dir, { recursive: true });
  const gobin = mkdtempSync(join(dir, 'gobin-'));
  const log = join(dir, 'go-install.log');
  opts.onProgress?.(`building ${MODULE}@${version} with go install into ${dir} (first run only; log: ${log})`);
  try {
    const env = { ...process.env, GOBIN: gobin, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
    const code = await runTool('go', ['install', `${MODULE}@${version}`], { logFile: log, env, cwd: dir, timeoutMs: 15 * 60_000 });
    if (code !== 0 || !isExecutable(join(gobin, 'gofakes3'))) {
      throw new DevEnvironmentError(`go install ${MODULE}@${version} failed (exit ${code}); is the Go module proxy reachable?`, logTail(log));
    }
    renameSync(join(gobin, 'gofakes3'), bin);
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
  return bin;
}

export interface S3ServerHandle {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  bucket: string;
  dataDir: string;
  logFile: string;
  /** AWS_* variables for the SDK and CLI tools (dummy credentials: gofakes3 does not check them). */
  env: Record<string, string>;
  stop(): Promise<void>;
  /** Stops (if running) and starts again on the same port and data: the objects are still there. */
  restart(): Promise<void>;
}

export interface StartS3ServerOptions {
  /** Where the bolt database lives (default: a new temp dir, removed by stop() unless given). */
  dataDir?: string;
  port?: number;
  /** Bucket created at start (default 'lake'). */
  bucket?: string;
  logFile?: string;
  onProgress?: (msg: string) => void;
  timeoutMs?: number;
}

/** Starts gofakes3 on loopback with a persistent backend and waits until it answers. */
export async function startS3Server(opts: StartS3ServerOptions = {}): Promise<S3ServerHandle> {
  const bin = await ensureGofakes3({ onProgress: opts.onProgress });
  const ownDir = opts.dataDir ? undefined : mkdtempSync(join(tmpdir(), 'multidispatch-s3-'));
  const dataDir = opts.dataDir ?? ownDir!;
  mkdirSync(dataDir, { recursive: true });
  const port = opts.port ?? (await freeTcpPorts(1))[0]!;
  const bucket = opts.bucket ?? 'lake';
  const logFile = opts.logFile ?? join(dataDir, 'gofakes3.log');
  const endpoint = `http://${LOOPBACK}:${port}`;
  let pid: number | undefined;

  const start = async (): Promise<void> => {
    const args = ['-backend', 'bolt', '-bolt.db', join(dataDir, 's3.bolt'), '-host', `${LOOPBACK}:${port}`, '-initialbucket', bucket];
    appendLog(logFile, `=== multidispatch: starting gofakes3: ${bin} ${args.join(' ')}`);
    const child = spawnDetached(bin, args, logFile);
    let exited: string | undefined;
    child.once('error', (err) => (exited = err.message));
    child.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `exit code ${code}`));
    pid = child.pid;
    if (pid === undefined) throw new DevEnvironmentError(`could not start ${bin}`, logTail(logFile));
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    let last = 'no answer yet';
    for (;;) {
      if (exited || !isAlive(pid)) throw new DevEnvironmentError(`gofakes3 exited during startup (${exited ?? 'process gone'}); log: ${logFile}`, logTail(logFile));
      try {
        // A bucket listing: the server is up and the bucket exists.
        const res = await fetch(`${endpoint}/${bucket}?list-type=2&max-keys=1`, { signal: AbortSignal.timeout(2_000) });
        await res.text();
        if (res.ok) break;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) {
        await stopProcess(pid, 2_000).catch(() => undefined);
        throw new DevEnvironmentError(`gofakes3 did not answer ${endpoint} in time (last error: ${last}); log: ${logFile}`, logTail(logFile));
      }
      await sleep(100);
    }
  };
  const stopServer = async (): Promise<void> => {
    if (pid !== undefined) await stopProcess(pid, 5_000);
    pid = undefined;
  };

  opts.onProgress?.(`starting gofakes3 on ${endpoint} (bucket ${bucket}, data ${dataDir})`);
  await start();
  return {
    endpoint,
    port,
    bucket,
    dataDir,
    logFile,
    env: { AWS_ENDPOINT_URL_S3: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'multidispatch-test', AWS_SECRET_ACCESS_KEY: 'multidispatch-test-secret', AWS_S3_FORCE_PATH_STYLE: 'true' },
    async stop() {
      await stopServer();
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    },
    async restart() {
      await stopServer();
      await start();
    },
  };
}
