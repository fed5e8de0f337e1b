/**
 * Summarises a V8 .cpuprofile (as written by `node --cpu-prof`): self time per function, time per component
 * (native and node-core frames charged to their nearest library or application caller), and inclusive time of chosen functions.
 * Samples can be restricted to a window given in the process' monotonic clock (µs), e.g. the timed phase.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  component: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  /** Sampled time inside the window, idle excluded (ms). */
  busyMs: number;
  idleMs: number;
  samples: number;
  /** False when the window matched no sample and the whole profile was used instead. */
  windowApplied: boolean;
  topSelf: ProfileRow[];
  components: Array<{ component: string; ms: number; percent: number }>;
  inclusive: Array<{ label: string; ms: number; percent: number }>;
}

/** Which library or part of the code a frame belongs to. */
export function componentOf(cf: CallFrame): string {
  const u = cf.url;
  const n = cf.functionName;
  if (n === '(garbage collector)') return 'garbage collector';
  if (n === '(program)') return 'V8/native (unattributed)';
  if (n === '(idle)') return 'idle';
  if (n === '(root)') return 'root';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1];
  if (pkg) return pkg === '@protobufjs' || pkg.startsWith('@protobufjs/') ? 'protobufjs' : pkg;
  const md = /\/(?:dist\/)?src\/(schema|publisher|sinks\/kafka|sinks\/statsd|kafka)\//.exec(u)?.[1];
  if (md) {
    return {
      schema: 'multidispatch: validate + encode (schema/)',
      publisher: 'multidispatch: publish core (publisher/)',
      'sinks/kafka': 'multidispatch: Kafka batching (sinks/kafka/)',
      'sinks/statsd': 'multidispatch: StatsD sink (sinks/statsd/)',
      kafka: 'multidispatch: producer port (kafka/)',
    }[md]!;
  }
  if (u.includes('/benchmarks/') || u.includes('/test/support/')) return 'benchmark driver';
  if (u.startsWith('node:')) return `node core (${u.slice(5).split('/')[0]})`;
  if (u === '' && /\$(encode|fromObject|verify|decode)$|^Type\$|^(encode|fromObject)$/.test(n)) return 'protobufjs';
  return u === '' ? 'native' : `other (${u.split('/').slice(-2).join('/')})`;
}

function shortUrl(u: string): string {
  const i = u.indexOf('node_modules/');
  if (i >= 0) return u.slice(i + 'node_modules/'.length);
  const j = u.search(/\/(dist\/src|src|benchmarks|test)\//);
  if (j >= 0) return u.slice(j + 1);
  return u;
}

export function summariseProfile(
  file: string,
  opts: { windowUs?: [number, number]; top?: number; inclusive?: Array<{ label: string; match: (cf: CallFrame) => boolean }> } = {},
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) byId.set(node.id, node);
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);

  // Sample i was taken at startTime + sum(timeDeltas[0..i]); it stands for the time until the next sample.
  const stamps: number[] = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) stamps.push((t += d));
  const weight = (i: number) => ((i + 1 < stamps.length ? stamps[i + 1]! : profile.endTime) - stamps[i]!) / 1000;
  let chosen = stamps.map((_, i) => i);
  let windowApplied = false;
  if (opts.windowUs) {
    const [a, b] = opts.windowUs;
    const inWindow = chosen.filter((i) => stamps[i]! >= a && stamps[i]! <= b);
    if (inWindow.length > 0) {
      chosen = inWindow;
      windowApplied = true;
    }
  }

  const self = new Map<number, number>();
  const comp = new Map<string, number>();
  const incl = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const i of chosen) {
    const w = weight(i);
    const id = profile.samples[i]!;
    const leaf = byId.get(id)!;
    const leafComp = componentOf(leaf.callFrame);
    if (leafComp === 'idle') {
      idle += w;
      continue;
    }
    busy += w;
    self.set(id, (self.get(id) ?? 0) + w);
    // Native frames (builtins, C++) and node core (Buffer, crypto, streams...) are charged to the nearest
    // caller in a library or in the application, which is what asked for the work.
    const transparent = (c: string) => c === 'native' || c.startsWith('node core');
    let owner = leafComp;
    if (transparent(owner)) {
      for (let p = parent.get(id); p !== undefined; p = parent.get(p)) {
        const c = componentOf(byId.get(p)!.callFrame);
        if (c === 'root') break;
        if (!transparent(c)) {
          owner = c;
          break;
        }
      }
    }
    comp.set(owner, (comp.get(owner) ?? 0) + w);
    if (opts.inclusive) {
      const stack: CallFrame[] = [];
      for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) stack.push(byId.get(p)!.callFrame);
      for (const { label, match } of opts.inclusive) if (stack.some(match)) incl.set(label, (incl.get(label) ?? 0) + w);
    }
  }

  const pct = (ms: number) => (busy > 0 ? (100 * ms) / busy : 0);
  const rows = new Map<string, ProfileRow>();
  for (const [id, ms] of self) {
    const cf = byId.get(id)!.callFrame;
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '(native)';
    const key = `${cf.functionName}\u0000${where}`;
    const row = rows.get(key) ?? { name: cf.functionName || '(anonymous)', where, component: componentOf(cf), ms: 0, percent: 0 };
    row.ms += ms;
    rows.set(key, row);
  }
  const topSelf = [...rows.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, opts.top ?? 25)
    .map((r) => ({ ...r, ms: Math.round(r.ms), percent: Math.round(pct(r.ms) * 10) / 10 }));
  const components = [...comp]
    .sort((a, b) => b[1] - a[1])
    .map(([component, ms]) => ({ component, ms: Math.round(ms), percent: Math.round(pct(ms) * 10) / 10 }));
  const inclusive = (opts.inclusive ?? []).map(({ label }) => {
    const ms = incl.get(label) ?? 0;
    return { label, ms: Math.round(ms), percent: Math.round(pct(ms) * 10) / 10 };
  });
  return { busyMs: Math.round(busy), idleMs: Math.round(idle), samples: chosen.length, windowApplied, topSelf, components, inclusive };
}

/** Renames components (e.g. "other (derive/runner.js)" → a readable name), merging those that get the same name. */
export function relabelComponents(s: ProfileSummary, name: (component: string) => string): ProfileSummary {
  const merged = new Map<string, number>();
  for (const c of s.components) merged.set(name(c.component), (merged.get(name(c.component)) ?? 0) + c.ms);
  const pct = (ms: number) => (s.busyMs > 0 ? Math.round((1000 * ms) / s.busyMs) / 10 : 0);
  return {
    ...s,
    components: [...merged].sort((a, b) => b[1] - a[1]).map(([component, ms]) => ({ component, ms, percent: pct(ms) })),
    topSelf: s.topSelf.map((r) => ({ ...r, component: name(r.component) })),
  };
}
