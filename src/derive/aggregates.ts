import { DDSketch } from '@datadog/sketches-js';
import protobuf from 'protobufjs';
import type { ResolvedMetric } from './definitions.js';
import { HyperLogLog } from './hll.js';

export type Writer = protobuf.Writer;
export type Reader = protobuf.Reader;

/**
 * How values of one group and window are combined, and how an accumulator (and, for sliding windows, a kept
 * value) is written to the changelog: compact protobuf-wire bytes, one changelog record per key.
 */
export interface Aggregation<A, V = number> {
  init(): A;
  add(acc: A, value: V): A;
  /** The value of a window: one number, or one per quantile (percentile). */
  result(acc: A): number;
  write(acc: A, w: Writer): void;
  read(r: Reader): A;
  writeValue(v: V, w: Writer): void;
  readValue(r: Reader): V;
  /** Percentiles: the quantiles reported, each a value of its own (dimension `quantile`). */
  quantiles?: readonly number[];
  quantile?(acc: A, q: number): number;
}

const num = { write: (a: number, w: Writer) => void w.double(a), read: (r: Reader) => r.double() };

export const countAgg: Aggregation<number> = {
  init: () => 0,
  add: (a) => a + 1,
  result: (a) => a,
  ...num,
  writeValue: () => undefined,
  readValue: () => 1,
};

export const sumAgg: Aggregation<number> = {
  init: () => 0,
  add: (a, v) => a + v,
  result: (a) => a,
  ...num,
  writeValue: (v, w) => void w.double(v),
  readValue: (r) => r.double(),
};

/** Registers for a relative standard error of 1.04/√m, rounded up to a power of two (16 to 65,536). */
export function hllRegisters(relativeError: number): number {
  const m = Math.pow(1.04 / relativeError, 2);
  return Math.min(65_536, Math.max(16, 2 ** Math.ceil(Math.log2(m))));
}

/** The value at a field path of a decoded event (undefined when a step is missing). */
export function get(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = obj;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

export interface MetricAggregation {
  agg: Aggregation<unknown, unknown>;
  /** The value an event contributes (its field, 1 for a count, the numerator/denominator hits of a ratio). */
  valueOf: (event: Record<string, unknown>, type: string) => unknown;
}

type Bins = DDSketch['store'];

function writeBins(store: Bins, w: Writer): void {
  const nonZero: number[] = [];
  store.bins.forEach((c, i) => c > 0 && nonZero.push(i));
  w.uint32(nonZero.length);
  for (const i of nonZero) w.sint32(i + store.offset).double(store.bins[i]!);
}

function readBins(store: Bins, r: Reader): void {
  for (let n = r.uint32(); n > 0; n--) store.add(r.sint32(), r.double());
}

/**
 * A DDSketch as its non-empty bins (key, count), zero count and summary. Not the library's toProto(): that
 * stores the mapping's gamma, and the mapping rebuilt from it differs in the last bits, so a restored sketch
 * would not give exactly the values an uninterrupted one gives. The mapping comes from the definition instead.
 */
function writeSketch(s: DDSketch, w: Writer): void {
  writeBins(s.store, w);
  writeBins(s.negativeStore, w);
  w.double(s.zeroCount).double(s.count).double(s.sum).double(s.min).double(s.max);
}

function readSketch(r: Reader, relativeAccuracy: number): DDSketch {
  const s = new DDSketch({ relativeAccuracy });
  readBins(s.store, r);
  readBins(s.negativeStore, r);
  s.zeroCount = r.double();
  s.count = r.double();
  s.sum = r.double();
  s.min = r.double();
  s.max = r.double();
  return s;
}

/** The aggregation of a resolved metric definition. */
export function aggregationFor(m: ResolvedMetric): MetricAggregation {
  const a = m.aggregate;
  const as = <A, V>(agg: Aggregation<A, V>) => agg as unknown as Aggregation<unknown, unknown>;
  switch (a.kind) {
    case 'count':
      return { agg: as(countAgg), valueOf: () => 1 };
    case 'sum':
      return { agg: as(sumAgg), valueOf: (e) => Number(get(e, m.valuePath!) ?? 0) };
    case 'ratio': {
      const matches = (f: typeof a.numerator, e: Record<string, unknown>, type: string) => (!f.eventTypes || f.eventTypes.includes(type)) && (!f.where || f.where(e));
      const agg: Aggregation<{ n: number; d: number }, [number, number]> = {
        init: () => ({ n: 0, d: 0 }),
        add: (acc, v) => ({ n: acc.n + v[0], d: acc.d + v[1] }),
        result: (acc) => (acc.d === 0 ? Number.NaN : acc.n / acc.d),
        write: (acc, w) => void w.double(acc.n).double(acc.d),
        read: (r) => ({ n: r.double(), d: r.double() }),
        writeValue: (v, w) => void w.uint32(v[0] | (v[1] << 1)),
        readValue: (r) => {
          const bits = r.uint32();
          return [bits & 1, (bits >> 1) & 1];
        },
      };
      return { agg: as(agg), valueOf: (e, type) => [matches(a.numerator, e, type) ? 1 : 0, matches(a.denominator, e, type) ? 1 : 0] };
    }
    case 'countDistinct': {
      const registers = hllRegisters(a.relativeError ?? 0.02);
      const agg: Aggregation<HyperLogLog, string> = {
        init: () => new HyperLogLog(registers),
        add: (h, v) => {
          h.add(v);
          return h;
        },
        result: (h) => Math.round(h.estimate()),
        write: (h, w) => void w.bytes(h.toBytes()),
        read: (r) => HyperLogLog.fromBytes(r.bytes()),
        writeValue: (v, w) => void w.string(v),
        readValue: (r) => r.string(),
      };
      return { agg: as(agg), valueOf: (e) => String(get(e, m.valuePath!) ?? '') };
    }
    case 'percentile': {
      const relativeAccuracy = a.relativeAccuracy ?? 0.01;
      const agg: Aggregation<DDSketch, number> = {
        init: () => new DDSketch({ relativeAccuracy }),
        add: (s, v) => {
          if (Number.isFinite(v)) s.accept(v); // an event without the field adds nothing
          return s;
        },
        result: (s) => s.getValueAtQuantile(a.quantiles[0]!),
        quantiles: a.quantiles,
        quantile: (s, q) => s.getValueAtQuantile(q),
        write: writeSketch,
        read: (r) => readSketch(r, relativeAccuracy),
        writeValue: (v, w) => void w.double(v),
        readValue: (r) => r.double(),
      };
      return { agg: as(agg), valueOf: (e) => Number(get(e, m.valuePath!)) };
    }
  }
}
