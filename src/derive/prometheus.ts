import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ResolvedMetric } from './definitions.js';
import type { EngineOutput } from './engine.js';
import { WindowGauges } from './window-gauges.js';

/** What /healthz or /readyz answers: 200 with `reason` when ok, else 503 with it. */
export interface Probe {
  ok: boolean;
  /** Short plain text: `ok`, `restoring 3 task(s)`, `no partitions assigned`, `stopping`, ... */
  reason: string;
}

/** Where the endpoint asks how the consumer is: the runner, which holds that state. */
export interface Probes {
  /** Alive: not stopped, not failed. */
  health(): Probe;
  /** Serving: partitions assigned, every task restored, consuming. */
  readiness(): Probe;
}

/**
 * The derive consumer's Prometheus endpoint: one gauge per derived metric (WindowGauges: the latest closed window
 * per group), and the consumer's own health — counters (`_total`) for what only grows, gauges for levels — plus
 * /healthz and /readyz for the orchestrator.
 */
export class DerivePrometheus {
  readonly registry = new Registry();
  readonly windows: WindowGauges;
  readonly consumed: Counter;
  readonly produced: Counter;
  readonly late: Counter;
  readonly rebalances: Counter;
  readonly restoredRecords: Counter;
  readonly restoreSeconds: Counter;
  readonly alertsFiring: Gauge;
  readonly missingJoins: Counter;
  readonly lag: Gauge;
  readonly tableRows: Gauge;
  /** The running totals last added to each per-metric counter (see addTotals). */
  private readonly added = new Map<Counter, Map<string, number>>();
  private server: Server | undefined;

  constructor(metrics: readonly ResolvedMetric[], prefix = 'multidispatch_derive_') {
    this.windows = new WindowGauges(metrics, this.registry);
    const r = [this.registry];
    this.consumed = new Counter({ name: `${prefix}consumed_records_total`, help: 'input records consumed', registers: r });
    this.produced = new Counter({ name: `${prefix}produced_records_total`, help: 'metric values and alert transitions committed to the output topics', registers: r });
    this.late = new Counter({ name: `${prefix}late_events_dropped_total`, help: 'events this process dropped because every window they belong to had closed (past end + grace)', labelNames: ['metric'], registers: r });
    this.rebalances = new Counter({ name: `${prefix}rebalances_total`, help: 'consumer group assignments received', registers: r });
    this.restoredRecords = new Counter({ name: `${prefix}restored_records_total`, help: 'changelog records read while restoring state', registers: r });
    this.restoreSeconds = new Counter({ name: `${prefix}restore_seconds_total`, help: 'time spent restoring state, in seconds', registers: r });
    this.alertsFiring = new Gauge({ name: `${prefix}alerts_firing`, help: 'alert rules currently firing (groups of the partitions this instance holds)', labelNames: ['metric'], registers: r });
    this.missingJoins = new Counter({ name: `${prefix}missing_joins_total`, help: 'events whose table key had no row (dropped, or kept with empty fields)', labelNames: ['metric'], registers: r });
    this.lag = new Gauge({ name: `${prefix}consumer_lag`, help: 'records behind the end of each consumed partition this instance holds (as of its last fetch)', labelNames: ['topic', 'partition'], registers: r });
    this.tableRows = new Gauge({ name: `${prefix}table_rows`, help: 'rows held per table', labelNames: ['table'], registers: r });
  }

  /** Records committed values (call after the transaction committed). */
  observe(out: Pick<EngineOutput, 'values'>): void {
    for (const v of out.values) this.windows.set(v);
  }

  /**
   * Adds to a per-metric counter what running totals (that only grow) grew by since the last call; every
   * metric shows, at 0 until it counts something.
   */
  addTotals(counter: Counter, totals: Record<string, number>): void {
    let last = this.added.get(counter);
    if (!last) this.added.set(counter, (last = new Map()));
    for (const [metric, n] of Object.entries(totals)) {
      counter.inc({ metric }, Math.max(0, n - (last.get(metric) ?? 0)));
      last.set(metric, Math.max(n, last.get(metric) ?? 0));
    }
  }

  /**
   * Serves GET /metrics, /healthz and /readyz on host:port (0 picks a free port); resolves with the port and
   * the base URL actually bound (`http://0.0.0.0:9464`, `http://[::]:9464`).
   */
  async listen(port: number, host: string, probes: Probes): Promise<{ port: number; url: string }> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const probe = path === '/healthz' ? probes.health() : path === '/readyz' ? probes.readiness() : undefined;
      if (probe) {
        res.writeHead(probe.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${probe.reason}\n`);
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics, /healthz or /readyz\n');
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
    if (typeof addr !== 'object' || !addr) return { port, url: `http://${host}:${port}` };
    return { port: addr.port, url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` };
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
