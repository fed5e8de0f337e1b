import type protobuf from 'protobufjs';
import { builtinRoot } from '../schema/builtin.js';
import type { AlertTransition, MetricValue } from './engine.js';

export const DERIVED_METRIC_TYPE = 'multidispatch.metrics.v1.DerivedMetric';
export const ALERT_TYPE = 'multidispatch.metrics.v1.Alert';
/** The md-producer header of derive's records. */
export const DERIVE_PRODUCER = 'multidispatch-derive';

/** The output schema (proto/multidispatch/metrics/v1/metrics.proto, shipped with the package and built into load and tail). */
export function metricsRoot(): protobuf.Root {
  return builtinRoot();
}

const ts = (ms: number | undefined) => (ms === undefined ? undefined : { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

/** Stable record key of a value: metric, sorted dimensions and window start (compaction keeps the latest). */
export function metricKey(v: { metric: string; dimensions: Record<string, string>; windowStart?: number }): string {
  const dims = Object.keys(v.dimensions)
    .sort()
    .map((k) => `${k}=${v.dimensions[k]}`)
    .join(',');
  return `${v.metric}|${dims}|${v.windowStart ?? ''}`;
}

export function encodeMetric(v: MetricValue, emittedAt: number): Buffer {
  const T = metricsRoot().lookupType(DERIVED_METRIC_TYPE);
  return Buffer.from(
    T.encode(
      T.fromObject({ name: v.metric, dimensions: v.dimensions, value: v.value, windowStart: ts(v.windowStart), windowEnd: ts(v.windowEnd), emittedAt: ts(emittedAt), final: v.final }),
    ).finish(),
  );
}

export function encodeAlert(a: AlertTransition, emittedAt: number): Buffer {
  const T = metricsRoot().lookupType(ALERT_TYPE);
  return Buffer.from(
    T.encode(
      T.fromObject({
        metric: a.metric, dimensions: a.dimensions, state: a.state === 'firing' ? 'FIRING' : 'RESOLVED', value: a.value,
        windowStart: ts(a.windowStart), windowEnd: ts(a.windowEnd), emittedAt: ts(emittedAt),
      }),
    ).finish(),
  );
}

export interface DecodedMetric {
  name: string;
  dimensions: Record<string, string>;
  value: number;
  windowStart: number | undefined;
  windowEnd: number | undefined;
  emittedAt: number | undefined;
  final: boolean;
}

const msOf = (t: { seconds: string | number; nanos: number } | null | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : undefined);

export function decodeMetric(bytes: Uint8Array): DecodedMetric {
  const T = metricsRoot().lookupType(DERIVED_METRIC_TYPE);
  const o = T.toObject(T.decode(bytes), { longs: String, defaults: true }) as { name: string; dimensions?: Record<string, string>; value: number; final: boolean; windowStart?: { seconds: string; nanos: number } | null; windowEnd?: { seconds: string; nanos: number } | null; emittedAt?: { seconds: string; nanos: number } | null };
  return { name: o.name, dimensions: o.dimensions ?? {}, value: o.value, windowStart: msOf(o.windowStart), windowEnd: msOf(o.windowEnd), emittedAt: msOf(o.emittedAt), final: o.final };
}

export interface DecodedAlert {
  metric: string;
  dimensions: Record<string, string>;
  state: 'firing' | 'resolved';
  value: number;
  windowStart: number | undefined;
  windowEnd: number | undefined;
  emittedAt: number | undefined;
}

export function decodeAlert(bytes: Uint8Array): DecodedAlert {
  const T = metricsRoot().lookupType(ALERT_TYPE);
  const o = T.toObject(T.decode(bytes), { longs: String, enums: String, defaults: true }) as { metric: string; dimensions?: Record<string, string>; state: string; value: number; windowStart?: { seconds: string; nanos: number } | null; windowEnd?: { seconds: string; nanos: number } | null; emittedAt?: { seconds: string; nanos: number } | null };
  return { metric: o.metric, dimensions: o.dimensions ?? {}, state: o.state === 'FIRING' ? 'firing' : 'resolved', value: o.value, windowStart: msOf(o.windowStart), windowEnd: msOf(o.windowEnd), emittedAt: msOf(o.emittedAt) };
}
