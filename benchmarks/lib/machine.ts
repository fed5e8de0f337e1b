/** What the benchmark ran on: CPU, memory, OS, node and the versions of the libraries under test. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  kafka?: string;
  packages: Record<string, string>;
  /** HEAD of the checkout; the working tree may hold uncommitted changes on top of it. */
  gitHead?: string;
  loadAvgAtStart: number[];
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

export function packageVersion(root: string, name: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machineInfo(root: string, packages: string[]): MachineInfo {
  const cpuinfo = readOr('/proc/cpuinfo', '');
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const osRelease = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readOr('/etc/os-release', ''))?.[1] ?? process.platform;
  let gitHead: string | undefined;
  try {
    // Read-only: prints the commit the checkout is on.
    gitHead = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    gitHead = undefined;
  }
  const loadavg = readOr('/proc/loadavg', '').split(' ').slice(0, 3).map(Number);
  return {
    cpuModel,
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${osRelease} (Linux ${release()})`,
    node: process.version,
    packages: Object.fromEntries(packages.map((p) => [p, packageVersion(root, p)])),
    ...(gitHead ? { gitHead } : {}),
    loadAvgAtStart: loadavg,
  };
}

/** Busy (without steal), stolen (by the hypervisor) and total CPU ticks of the whole machine, from /proc/stat. */
export function systemCpuTicks(): { busy: number; steal: number; total: number } {
  const line = readOr('/proc/stat', '').split('\n')[0] ?? '';
  // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const steal = f[7] ?? 0;
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle - steal, steal, total };
}

/** user+system CPU of another process in clock ticks (1/100 s on Linux), or NaN when it cannot be read. */
export function processCpuTicks(pid: number): number {
  const stat = readOr(`/proc/${pid}/stat`, '');
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state(3) ... utime(14) stime(15) → indexes 11 and 12 here.
  const utime = Number(after[11]);
  const stime = Number(after[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : Number.NaN;
}

export const CLOCK_TICKS_PER_SECOND = 100;

/** CPU counters at the start of a timed phase: broker process, whole machine, this (parent) process, wall time. */
export interface CpuMark {
  broker: number;
  sys: { busy: number; steal: number; total: number };
  parent: NodeJS.CpuUsage;
  t: number;
}

export function takeCpuMark(brokerPid: number): CpuMark {
  return { broker: processCpuTicks(brokerPid), sys: systemCpuTicks(), parent: process.cpuUsage(), t: Date.now() };
}

/** Seconds of CPU and wall time since `mark`: broker, machine busy, steal, this process, wall. */
export function cpuSince(mark: CpuMark, brokerPid: number): { brokerCpuS: number; systemBusyS: number; stealS: number; parentCpuS: number; wallS: number } {
  const sys = systemCpuTicks();
  const p = process.cpuUsage(mark.parent);
  return {
    brokerCpuS: (processCpuTicks(brokerPid) - mark.broker) / CLOCK_TICKS_PER_SECOND,
    systemBusyS: (sys.busy - mark.sys.busy) / CLOCK_TICKS_PER_SECOND,
    stealS: (sys.steal - mark.sys.steal) / CLOCK_TICKS_PER_SECOND,
    parentCpuS: (p.user + p.system) / 1e6,
    wallS: (Date.now() - mark.t) / 1000,
  };
}
