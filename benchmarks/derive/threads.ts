/**
 * CPU per thread of a process, from /proc/<pid>/task/<tid>/stat (user + system ticks) and .../comm (the first 15
 * characters of the thread's name), to split a process' CPU over a phase between its threads: for K, the stream
 * thread against the JVM's other threads (GC, JIT compilers, producer network thread, RocksDB); for D, node's main
 * (JavaScript) thread against V8's and libuv's helper threads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { CLOCK_TICKS_PER_SECOND } from '../lib/machine.js';

/** tid → name and CPU ticks; the thread whose tid is the pid (node's JavaScript thread, the JVM launcher's main) is named "<main>". */
export type ThreadTicks = Map<number, { comm: string; ticks: number }>;

export function threadTicks(pid: number): ThreadTicks {
  const out: ThreadTicks = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the ')' that closes comm: state is field 3; utime, stime are fields 14, 15.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(rest[11]) + Number(rest[12]);
      const comm = Number(tid) === pid ? '<main>' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(Number(tid), { comm, ticks });
    } catch {
      // the thread ended between readdir and read
    }
  }
  return out;
}

/** Thread class of a JVM (K: client.id "K") or node thread name (node 20 leaves its helper threads named "node"). */
export function threadClass(comm: string, jvm: boolean): string {
  if (comm === '<main>') return jvm ? 'JVM launcher main thread' : 'main thread (JavaScript)';
  if (!jvm) return comm === 'node' ? 'helper threads (V8 GC + compiler, libuv)' : `other (${comm})`;
  if (comm.startsWith('K-StreamThread')) return 'stream thread';
  if (comm.startsWith('K-GlobalStream')) return 'global (table) thread';
  if (comm.startsWith('kafka-producer')) return 'producer network thread';
  if (comm.startsWith('kafka-coordinat') || comm.startsWith('kafka-admin') || comm.startsWith('consumer_')) return 'consumer/admin client threads';
  if (/^(GC Thread|G1 |VM Periodic|GC )/.test(comm) || comm === 'VM Thread') return 'GC + VM threads';
  if (/^C[12] Compiler/.test(comm)) return 'JIT compiler threads';
  if (comm.startsWith('rocksdb')) return 'RocksDB threads';
  return 'other JVM threads';
}

/** CPU seconds per thread class between two snapshots (threads that ended in between are lost: shown as "ended"). */
export function threadSplit(before: ThreadTicks, after: ThreadTicks, processCpuS: number, jvm: boolean): Array<{ cls: string; cpuS: number; percent: number; threads: number }> {
  const acc = new Map<string, { cpuS: number; threads: number }>();
  let seen = 0;
  for (const [tid, a] of after) {
    const d = (a.ticks - (before.get(tid)?.ticks ?? 0)) / CLOCK_TICKS_PER_SECOND;
    if (d <= 0) continue;
    seen += d;
    const cls = threadClass(a.comm, jvm);
    const x = acc.get(cls) ?? { cpuS: 0, threads: 0 };
    x.cpuS += d;
    x.threads++;
    acc.set(cls, x);
  }
  const gone = processCpuS - seen;
  if (gone > 0.02) acc.set('threads that ended during the phase', { cpuS: gone, threads: 0 });
  const total = Math.max(processCpuS, seen);
  return [...acc]
    .sort((a, b) => b[1].cpuS - a[1].cpuS)
    .map(([cls, x]) => ({ cls, cpuS: Math.round(x.cpuS * 100) / 100, percent: total > 0 ? Math.round((1000 * x.cpuS) / total) / 10 : 0, threads: x.threads }));
}
