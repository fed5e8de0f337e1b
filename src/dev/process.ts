/**
 * Child-process helpers for the dev servers: running a build tool with its output in a log file, starting a
 * long-lived server detached, checking that a pid is still the process we started, stopping it, and log tails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DevEnvironmentError } from '../errors.js';
import { sleep } from './paths.js';

/** The last `lines` lines of a log file ('' when it does not exist); reads at most the final 256 KiB. */
export function logTail(file: string, lines = 40): string {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const len = Math.min(size, 256 * 1024);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      const all = buf.toString('utf8').replace(/\s+$/, '').split('\n');
      return all.slice(-lines).join('\n');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** Appends one line to a log file (used to mark where a start attempt begins). */
export function appendLog(file: string, line: string): void {
  const fd = openSync(file, 'a');
  try {
    writeSync(fd, `${line}\n`);
  } finally {
    closeSync(fd);
  }
}

/** True when `cmd` can be executed (looked up on PATH when it has no slash). */
export function commandExists(cmd: string): boolean {
  if (cmd.includes('/')) return existsSync(cmd);
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  return dirs.some((d) => existsSync(join(d, cmd)));
}

export interface RunToolOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr of the tool are written (truncated first) to this file. */
  logFile: string;
  timeoutMs?: number;
  /** Written to the log instead of the real arguments (when those hold a secret). */
  logArgs?: readonly string[];
}

/** Runs a build tool to completion; resolves with its exit code (or rejects when it cannot be started). */
export function runTool(cmd: string, args: readonly string[], opts: RunToolOptions): Promise<number> {
  const fd = openSync(opts.logFile, 'w');
  writeSync(fd, `$ ${cmd} ${(opts.logArgs ?? args).join(' ')}\n`);
  return new Promise<number>((res, rej) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd] });
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          writeSync(fd, `\n[multidispatch] ${cmd} did not finish within ${opts.timeoutMs} ms; killing it\n`);
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.once('error', (err) => {
      clearTimeout(timer);
      rej(new DevEnvironmentError(`could not run ${cmd}: ${err.message}`, undefined, { cause: err }));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      res(code ?? (signal ? 128 : 1));
    });
  }).finally(() => closeSync(fd));
}

/**
 * Starts a long-lived server in its own session (it survives the CLI exiting), stdout and stderr appended to
 * `logFile`. The returned child is unref'd; its 'exit' event still fires while this process is alive.
 */
export function spawnDetached(cmd: string, args: readonly string[], logFile: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** True when the pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return existsSync('/proc/self') ? false : true; // no /proc (macOS): trust kill(0)
  }
}

/**
 * True when `pid` is alive and its command line contains every needle, so a recycled pid is never signalled.
 * Without /proc the command line cannot be read and only liveness is checked.
 */
export function isOurProcess(pid: number, needles: readonly string[]): boolean {
  if (!isAlive(pid)) return false;
  if (!existsSync('/proc/self/cmdline')) return true;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    return needles.every((n) => cmdline.includes(n));
  } catch {
    return false;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL and wait for it to be gone. Resolves true if it had to kill. */
export async function stopProcess(pid: number, graceMs = 30_000): Promise<boolean> {
  if (!isAlive(pid)) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  if (await waitGone(pid, graceMs)) return false;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  if (!(await waitGone(pid, 10_000))) throw new DevEnvironmentError(`process ${pid} did not exit after SIGKILL`);
  return true;
}

/** Output of a short command (e.g. `java -version`), or undefined when it cannot run. */
export function quickOutput(cmd: string, args: readonly string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}
