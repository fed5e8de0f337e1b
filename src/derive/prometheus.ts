import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ResolvedMetric } from './definitions.js';
import type { EngineOutput } from './engine.js';

/**
 * The derive consumer's Prometheus endpoint: one gauge per derived metric (labels = its groupBy fields; the
 * value of the latest closed window), and the consumer's own health: consumed and produced records, lag, late
 * events, missing joins, table sizes, rebalances, restored records and restore time.
 */
export class DerivePrometheus {
  readonly registry = new Registry();
  private readonly gauges = new Map<string, Gauge>();
  readonly consumed: Counter;
  readonly produced: Counter;
  readonly late: Gauge;
  readonly rebalances: Counter;
  readonly restoredRecords: Counter;
  readonly restoreSeconds: Counter;
  readonly alertsFiring: Gauge;
  readonly missingJoins: Gauge;
  readonly lag: Gauge;
  readonly tableRows: Gauge;
  private server: Server | undefined;

  constructor(metrics: readonly ResolvedMetric[], prefix = 'multidispatch_derive_') {
    for (const m of metrics) {
      this.gauges.set(m.name, new Gauge({ name: m.name, help: `derived metric ${m.name} (latest closed window)`, labelNames: [...m.groupBy.map((g) => g.label), ...(m.aggregate.kind === 'percentile' ? ['quantile'] : [])], registers: [this.registry] }));
    }
    const r = [this.registry];
    this.consumed = new Counter({ name: `${prefix}consumed_records_total`, help: 'input records consumed', registers: r });
    this.produced = new Counter({ name: `${prefix}produced_records_total`, help: 'metric values and alerts committed', registers: r });
    this.late = new Gauge({ name: `${prefix}late_events_dropped`, help: 'events dropped because all their windows were closed', labelNames: ['metric'], registers: r });
    this.rebalances = new Counter({ name: `${prefix}rebalances_total`, help: 'consumer group assignments', registers: r });
    this.restoredRecords = new Counter({ name: `${prefix}restored_records_total`, help: 'changelog records read while restoring state', registers: r });
    this.restoreSeconds = new Counter({ name: `${prefix}restore_seconds_total`, help: 'time spent restoring state', registers: r });
    this.alertsFiring = new Gauge({ name: `${prefix}alerts_firing`, help: 'alert rules currently firing', labelNames: ['metric'], registers: r });
    this.missingJoins = new Gauge({ name: `${prefix}missing_joins`, help: 'events whose table key had no row (dropped, or kept with empty fields)', labelNames: ['metric'], registers: r });
    this.lag = new Gauge({ name: `${prefix}consumer_lag`, help: 'records behind the end of each consumed partition (as of the last fetch)', labelNames: ['topic', 'partition'], registers: r });
    this.tableRows = new Gauge({ name: `${prefix}table_rows`, help: 'rows held per table', labelNames: ['table'], registers: r });
  }

  /** Records committed outputs (call after the transaction committed). */
  observe(out: Pick<EngineOutput, 'values' | 'alerts'>, late: Record<string, number>): void {
    for (const v of out.values) {
      if (v.windowStart === undefined) continue; // per-event values are counts of 1, not levels
      this.gauges.get(v.metric)?.set(v.dimensions, v.value);
    }
    for (const a of out.alerts) this.alertsFiring.inc({ metric: a.metric }, a.state === 'firing' ? 1 : -1);
    for (const [metric, n] of Object.entries(late)) this.late.set({ metric }, n);
  }

  /** Serves GET /metrics on 127.0.0.1:port (0 picks a free port); resolves with the port. */
  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('not found: try /metrics\n');
        return;
      }
      this.registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text))
        .catch((err: Error) => res.writeHead(500).end(err.message));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, resolve);
    });
    const addr = this.server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
