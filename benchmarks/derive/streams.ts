/**
 * The Kafka Streams baseline of benchmarks/derive (streams-app/): built with Maven into a shaded jar, cached by a
 * hash of pom.xml and the sources (a rerun with nothing changed does not call mvn), and run as a child java
 * process that prints READY, waits for "go" on stdin, and on SIGTERM prints "STATS {json}" and exits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_DIR = join(dirname(fileURLToPath(import.meta.url)), 'streams-app');
export const JAR = join(APP_DIR, 'target', 'derive-streams-app.jar');
const HASH_FILE = join(APP_DIR, 'target', '.bench-build-hash');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of [join(APP_DIR, 'pom.xml'), ...files(join(APP_DIR, 'src'))].sort()) {
    h.update(relative(APP_DIR, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex');
}

/** Builds the jar when missing or when pom.xml / src changed since the last build; throws with mvn's output on failure. */
export function ensureStreamsJar(say: (m: string) => void): { jar: string; built: boolean; buildMs: number } {
  const hash = sourceHash();
  if (existsSync(JAR) && existsSync(HASH_FILE) && readFileSync(HASH_FILE, 'utf8').trim() === hash) return { jar: JAR, built: false, buildMs: 0 };
  say(`building ${relative(process.cwd(), APP_DIR)} with mvn -q -B package (first time: downloads kafka-streams from Maven Central)`);
  const t0 = Date.now();
  const r = spawnSync('mvn', ['-q', '-B', 'package'], { cwd: APP_DIR, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.error) throw new Error(`could not run mvn (is Maven installed and on PATH?): ${r.error.message}`);
  if (r.status !== 0 || !existsSync(JAR)) {
    throw new Error(`mvn -q -B package failed in ${APP_DIR} (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
  writeFileSync(HASH_FILE, `${hash}\n`);
  const buildMs = Date.now() - t0;
  say(`built ${relative(process.cwd(), JAR)} (${(statSync(JAR).size / 2 ** 20).toFixed(0)} MiB) in ${(buildMs / 1000).toFixed(1)} s`);
  return { jar: JAR, built: true, buildMs };
}

export function javaVersion(): string {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return (r.stderr || r.stdout || '').split('\n')[0]?.trim() ?? 'unknown';
}

export interface StreamsArgs {
  bootstrap: string;
  input: string;
  output: string;
  appId: string;
  stateDir: string;
  commitMs: number;
  groupBy: 'key' | 'market' | 'join' | 'restaurant' | 'users';
  /** join: the table topic (GlobalKTable). */
  table?: string;
  emit: 'final' | 'update';
  threads: number;
}

export interface StreamsProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves on the first line `READY`. */
  ready: Promise<void>;
  /** Resolves at the first line `RUNNING` (Streams reached RUNNING), with the time (performance.now()). */
  running: Promise<number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  go(): void;
  /** SIGTERM, wait for exit (SIGKILL after `ms`); returns the STATS line's figures when printed. */
  stop(ms?: number): Promise<{ processed?: number; dropped?: number; code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines of stderr (for failures). */
  stderrTail(): string;
}

export function spawnStreams(jar: string, a: StreamsArgs, jvmArgs: string[] = []): StreamsProcess {
  const args = [
    ...jvmArgs,
    '-jar', jar,
    '--bootstrap', a.bootstrap, '--input', a.input, '--output', a.output, '--app-id', a.appId, '--state-dir', a.stateDir,
    '--commit-ms', String(a.commitMs), '--group-by', a.groupBy, '--emit', a.emit, '--threads', String(a.threads),
    ...(a.table ? ['--table', a.table] : []),
  ];
  const child = spawn('java', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let stats: { processed?: number; dropped?: number } = {};
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  let onReady!: () => void;
  let onRunning!: (t: number) => void;
  const ready = new Promise<void>((res, rej) => {
    onReady = res;
    void exited.then((e) => rej(new Error(`java exited (${e.code ?? e.signal}) before READY:\n${stderr.slice(-4000)}`)));
  });
  const running = new Promise<number>((res) => (onRunning = res));
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line === 'READY') onReady();
      else if (line === 'RUNNING') onRunning(performance.now());
      else if (line.startsWith('STATS ')) stats = JSON.parse(line.slice(6)) as typeof stats;
    }
  });
  return {
    child,
    pid: child.pid!,
    ready,
    running,
    exited,
    go: () => child.stdin!.write('go\n'),
    async stop(ms = 40_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const e = await exited;
      clearTimeout(timer);
      return { ...stats, ...e };
    },
    stderrTail: () => stderr.slice(-4000),
  };
}
