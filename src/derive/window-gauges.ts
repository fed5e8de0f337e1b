import { Gauge, type Registry } from 'prom-client';
import type { ResolvedMetric } from './definitions.js';
import type { MetricValue } from './engine.js';

interface Series {
  labels: Record<string, string>;
  /** End of the window whose value the gauge holds. */
  windowEnd: number;
  /** The partition whose state produced it. */
  partition: number;
}

interface MetricGauge {
  gauge: Gauge;
  /** A series is stale once its metric's stream time is this far past the end of its latest window. */
  staleAfterMs: number;
  series: Map<string, Series>;
}

/**
 * The derived metrics as Prometheus gauges, one per metric (labels = its groupBy fields, plus `quantile` for a
 * percentile): per label set, the value of its latest closed window. A window is forgotten once it closes, so a
 * group that stops getting events has no window left; its label set is removed once the metric's stream time
 * has passed the end of its latest window by one window size plus grace, i.e. once a whole window that would
 * have held it has closed without it. Removed, not set to 0, for every aggregate, counts included: the metrics
 * topic has no value for a window without events either, a 0 kept for every group ever seen would grow without
 * bound, and a restarted process would not know those groups anyway.
 *
 * @example
 * const g = new WindowGauges(metrics, registry);
 * g.set(value);                          // after the transaction that produced it committed
 * g.sweep((metric) => engine.streamTime(metric, Date.now()));
 */
export class WindowGauges {
  private readonly metrics = new Map<string, MetricGauge>();

  constructor(metrics: readonly ResolvedMetric[], registry: Registry) {
    for (const m of metrics) {
      const labelNames = [...m.groupBy.map((g) => g.label), ...(m.aggregate.kind === 'percentile' ? ['quantile'] : [])];
      const gauge = new Gauge({ name: m.name, help: `derived metric ${m.name}: the value of the latest closed window per group (a group with no window for a window size plus grace is removed)`, labelNames, registers: [registry] });
      this.metrics.set(m.name, { gauge, staleAfterMs: m.window ? m.window.sizeMs + m.window.graceMs : 0, series: new Map() });
    }
  }

  /** A committed value of a window; a value for a window older than the one a label set shows is ignored. */
  set(v: MetricValue): void {
    const m = this.metrics.get(v.metric);
    if (!m || v.windowEnd === undefined) return; // per-event values are counts of 1, not levels
    const key = JSON.stringify(v.dimensions);
    const s = m.series.get(key);
    if (s && s.windowEnd > v.windowEnd) return;
    m.series.set(key, { labels: v.dimensions, windowEnd: v.windowEnd, partition: v.partition });
    m.gauge.set(v.dimensions, v.value);
  }

  /** Removes the stale label sets, given each metric's stream time (undefined: unknown, nothing removed); returns how many. */
  sweep(streamTime: (metric: string) => number | undefined): number {
    let removed = 0;
    for (const [name, m] of this.metrics) {
      if (m.series.size === 0) continue;
      const now = streamTime(name);
      if (now === undefined) continue;
      for (const [key, s] of m.series) {
        if (now < s.windowEnd + m.staleAfterMs) continue;
        m.gauge.remove(s.labels);
        m.series.delete(key);
        removed++;
      }
    }
    return removed;
  }

  /** Removes the label sets a partition produced (it moved to another instance, which now shows them). */
  forgetPartition(partition: number, metrics: Iterable<string>): void {
    for (const name of metrics) {
      const m = this.metrics.get(name);
      if (!m) continue;
      for (const [key, s] of m.series) {
        if (s.partition !== partition) continue;
        m.gauge.remove(s.labels);
        m.series.delete(key);
      }
    }
  }
}
