/**
 * A real S3-protocol server for development and the lake tests: gofakes3 (MIT licence,
 * github.com/johannesboyne/gofakes3), built from the Go module proxy with `go install` into the tool cache once per
 * version, run on loopback with its bolt backend: every object lives in one bbolt file, each write is one fsync'd
 * transaction, so a stop (even SIGKILL) and a restart keep the objects. MinIO's server would do as well but is
 * AGPL; gofakes3 is MIT and builds with the Go toolchain alone.
 *
 * What gofakes3 v1.2.0 does and does not do (test/dev/s3-server.test.ts asserts each point):
 * - `PUT` with `If-None-Match: *` on an existing key is refused with 412 PreconditionFailed (checked inside the
 *   bolt write transaction, so two racing writers cannot both win); `If-Match` with an ETag is honoured too.
 * - DeleteObjects works (a missing key is reported as deleted, as on AWS).
 * - Multipart uploads work; an incomplete one is not listed by ListObjectsV2. Uploads in progress are kept in
 *   memory only: a restart forgets them (completed objects are in the bolt file like any other).
 * - Request signatures are NOT checked: any access key and secret are accepted. Only the clock skew of a signed
 *   request is (15 minutes).
 * - A PUT needs a Content-Length (the SDK always sends one).
 *
 * @example
 * const s3 = await startS3Server({ dataDir: '/tmp/s3' });
 * // s3.endpoint, s3.bucket, s3.env (AWS_* for the SDK: path-style, dummy credentials)
 * await s3.restart(); // same port, same objects
 * await s3.stop();
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DevEnvironmentError } from '../errors.js';
import { assertTcpPortFree, freeTcpPorts, isTcpPortFree, LOOPBACK } from './net.js';
import { sleep } from './paths.js';
import { ensureGoTool } from './go-tool.js';
import { appendLog, isAlive, logTail, spawnDetached, stopProcess } from './process.js';

/** Pinned gofakes3 release (its go.mod asks for Go 1.24). */
export const GOFAKES3_VERSION = 'v1.2.0';
const MODULE = 'github.com/johannesboyne/gofakes3/cmd/gofakes3';
const DEFAULT_BUCKET = 'lake';
/** Dummy credentials: gofakes3 accepts any (it does not verify signatures), the SDK only needs some. */
const ACCESS_KEY_ID = 'multidispatch-test';
const SECRET_ACCESS_KEY = 'multidispatch-test-secret';

export function gofakes3Version(version?: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = version ?? env.MULTIDISPATCH_GOFAKES3_VERSION ?? GOFAKES3_VERSION;
  if (!/^v\d+\.\d+\.\d+$/.test(v)) throw new DevEnvironmentError(`gofakes3 version '${v}' is not of the form vX.Y.Z`);
  return v;
}

/** Path of the gofakes3 binary, running `GOBIN=<cache> go install <module>@<version>` unless already cached. */
export async function ensureGofakes3(opts: { version?: string; onProgress?: (msg: string) => void } = {}): Promise<string> {
  return ensureGoTool({ module: MODULE, binary: 'gofakes3', version: gofakes3Version(opts.version), goVersion: '1.24' }, opts.onProgress);
}

export interface S3ServerHandle {
  /** http://127.0.0.1:PORT (use path-style addressing: `forcePathStyle: true`). */
  endpoint: string;
  host: string;
  port: number;
  bucket: string;
  /** Holds the bolt database `s3.bolt`. */
  dataDir: string;
  logFile: string;
  /** Pid of the running server (changes on restart(); the last one after stop()). */
  readonly pid: number;
  version: string;
  /**
   * AWS_ENDPOINT_URL_S3, AWS_REGION (us-east-1), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (dummy values) and
   * AWS_S3_FORCE_PATH_STYLE=true, for the SDK, CLI tools and the lake's S3 store.
   */
  env: Record<string, string>;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. The data dir is kept. */
  stop(): Promise<void>;
  /** Stops (if running) and starts again on the same port and data dir, waiting until it answers. */
  restart(): Promise<void>;
}

export interface StartS3ServerOptions {
  /**
   * Where the bolt database (`s3.bolt`) and, by default, the log live. Default: a new dir under the OS temp dir,
   * which stop() does not remove (restart() needs it); pass your own dir to control its lifetime.
   */
  dataDir?: string;
  /** TCP port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Bucket created at start when missing (default 'lake'). */
  bucket?: string;
  version?: string;
  /** Where the server's output goes (default `<dataDir>/gofakes3.log`; appended to across restarts). */
  logFile?: string;
  onProgress?: (msg: string) => void;
  /** How long to wait for the bucket to answer a HEAD (default 30 s). */
  timeoutMs?: number;
}

/** Starts gofakes3 on loopback with the bolt backend, creates the bucket and waits until it answers. */
export async function startS3Server(opts: StartS3ServerOptions = {}): Promise<S3ServerHandle> {
  const version = gofakes3Version(opts.version);
  const bin = await ensureGofakes3({ version, onProgress: opts.onProgress });
  const bucket = opts.bucket ?? DEFAULT_BUCKET;
  // S3 bucket naming rules (lower case, digits, dots, hyphens; 3-63 characters): gofakes3 refuses others too.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new DevEnvironmentError(`'${bucket}' is not a valid S3 bucket name`);
  if (opts.port !== undefined) await assertTcpPortFree(opts.port, 'gofakes3');
  const port = opts.port ?? (await freeTcpPorts(1))[0]!;
  const dataDir = opts.dataDir ? resolve(opts.dataDir) : mkdtempSync(join(tmpdir(), 'multidispatch-s3-'));
  mkdirSync(dataDir, { recursive: true });
  const logFile = opts.logFile ? resolve(opts.logFile) : join(dataDir, 'gofakes3.log');
  const endpoint = `http://${LOOPBACK}:${port}`;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const db = join(dataDir, 's3.bolt');
  const args = ['-backend', 'bolt', '-bolt.db', db, '-host', `${LOOPBACK}:${port}`, '-initialbucket', bucket];
  let pid = 0;
  let running = false;

  const start = async (): Promise<void> => {
    appendLog(logFile, `=== multidispatch: starting gofakes3 ${version}: ${bin} ${args.join(' ')}`);
    const child = spawnDetached(bin, args, logFile);
    let exited: string | undefined;
    child.once('error', (err) => (exited = err.message));
    child.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `exit code ${code}`));
    if (child.pid === undefined) {
      await new Promise((r) => setImmediate(r)); // let 'error' arrive
      throw new DevEnvironmentError(`could not start ${bin}${exited ? `: ${exited}` : ''}`, logTail(logFile));
    }
    pid = child.pid;
    running = true;
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      if (exited || !isAlive(pid)) {
        running = false;
        throw new DevEnvironmentError(`gofakes3 exited during startup (${exited ?? 'process gone'}); log: ${logFile}`, logTail(logFile));
      }
      try {
        // HEAD bucket: the server is up and the bucket exists (404 while -initialbucket has not run yet).
        const res = await fetch(`${endpoint}/${bucket}`, { method: 'HEAD', signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.ok) return;
        last = `HEAD /${bucket}: HTTP ${res.status}`;
      } catch (err) {
        last = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
      }
      if (Date.now() > deadline) {
        await stopProcess(pid, 2_000).catch(() => undefined);
        running = false;
        const tail = logTail(logFile);
        // bbolt waits (forever) for the lock of a database file another process has open, before it listens.
        const sinceStart = tail.slice(tail.lastIndexOf('=== multidispatch: starting gofakes3'));
        const hint = sinceStart.includes('using port:') ? '' : `; it never listened: is another gofakes3 using ${db}? (bolt waits for its file lock)`;
        throw new DevEnvironmentError(`gofakes3 did not answer ${endpoint} within ${timeoutMs} ms (last error: ${last})${hint}; log: ${logFile}`, tail);
      }
      await sleep(100);
    }
  };
  const stopServer = async (): Promise<void> => {
    if (running) await stopProcess(pid, 5_000);
    running = false;
  };

  opts.onProgress?.(`starting gofakes3 ${version} on ${endpoint} (bucket ${bucket}, data ${dataDir})`);
  await start();
  // One operation at a time: a restart() racing a stop() must not leave a server behind.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = (fn: () => Promise<void>): Promise<void> => {
    const p = queue.then(fn);
    queue = p.catch(() => undefined);
    return p;
  };
  return {
    endpoint,
    host: LOOPBACK,
    port,
    bucket,
    dataDir,
    logFile,
    get pid() {
      return pid;
    },
    version,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      AWS_S3_FORCE_PATH_STYLE: 'true',
    },
    stop: () => serial(stopServer),
    restart: () =>
      serial(async () => {
        await stopServer();
        // The port was ours until a moment ago. Another process may hold it for a moment (a test finding a free port
        // binds one briefly): wait up to 15 s; if something still holds it, say so instead of timing out.
        const until = Date.now() + 15_000;
        while (!(await isTcpPortFree(port)) && Date.now() < until) await sleep(100);
        await assertTcpPortFree(port, 'gofakes3 (restart)');
        opts.onProgress?.(`restarting gofakes3 on ${endpoint} (data ${dataDir})`);
        await start();
      }),
  };
}
