import { duration, hhmm, hhmmss, incidentFacts } from './incident.js';
export { renderHtml } from './html.js';

/** What the demo saw, in one structure: rendered for the terminal and as a self-contained HTML page. */
export interface DemoReport {
  generatedAt: string;
  orders: number;
  events: number;
  published: number;
  publishFailed: number;
  /** Events of each type simulated (all published when publishFailed is 0). */
  publishedByType: Record<string, number>;
  minutes: number;
  startMs: number;
  incident: { market: string; platform: string; fromMs: number; toMs: number; failureRate: number };
  /** StatsD: failed payments per `${minute}|${market}|${platform}`, as received by the StatsD server. */
  statsdFailures: Array<{ key: string; value: number }>;
  /**
   * StatsD: successful payments, keyed the same way. Every attempt ends in one failure or one success, so the
   * failure rate is failed / (failed + succeeded), counted at the outcome's time (attempts are counted seconds
   * earlier, often in the minute before, which would put a minute's rate above 100%).
   */
  statsdSucceeded: Array<{ key: string; value: number }>;
  alerts: Array<{ metric: string; dimensions: Record<string, string>; state: 'firing' | 'resolved'; value: number; windowEnd: number }>;
  /** The failure alert: `alertMetric` ≥ `alertThreshold` (failed payments of one market and platform in 10 minutes). */
  alertThreshold: number;
  alertMetric: string;
  warehouse: {
    rows: number;
    usersAffected: number;
    failures: number;
    transientUsers: number;
    blockedUsers: number;
    ordersAtRisk: number;
    amountAtRisk: number;
    currency: string;
    queries: Record<string, string>;
  };
  derived: {
    values: number;
    /** users_failed_payment_5m of the incident's market and platform, per tumbling 5-minute window. */
    usersFailedPayment: Array<{ windowStart: number; windowEnd: number; value: number }>;
    /** The failure alert's own metric (sliding, final values), every market and platform: what the rule compared. */
    alertMetricValues: Array<{ windowEnd: number; market: string; platform: string; value: number }>;
    lateDropped: number;
  };
  agreement: {
    rows: Array<{ minute: number; market: string; platform: string; statsd: number; warehouse: number; derived: number; agree: boolean }>;
    cells: number;
    agreeing: number;
  };
}

/** The terminal summary. */
export function renderTerminal(r: DemoReport): string[] {
  const inc = r.incident;
  const out: string[] = [];
  out.push(`== What the dashboards saw (StatsD) ==`);
  const seg = `${inc.market}|${inc.platform}`;
  const perMinute = new Map<number, number>();
  for (const { key, value } of r.statsdFailures) {
    const [m, market, platform] = key.split('|');
    if (`${market}|${platform}` === seg) perMinute.set(Number(m), value);
  }
  const max = Math.max(1, ...perMinute.values());
  out.push(`failed payments per minute, ${inc.market} ${inc.platform} (incident ${hhmm(inc.fromMs)}–${hhmm(inc.toMs)} UTC):`);
  for (const m of [...perMinute.keys()].sort((a, b) => a - b)) {
    const v = perMinute.get(m)!;
    out.push(`  ${hhmm(m)} ${'█'.repeat(Math.round((v / max) * 40)).padEnd(40)} ${v}${m >= inc.fromMs && m < inc.toMs ? '  ← incident' : ''}`);
  }
  const fired = r.alerts.filter((a) => a.state === 'firing');
  const facts = incidentFacts(r);
  out.push(
    facts.firedAt === undefined
      ? `the ${r.alertMetric} alert did not fire for ${facts.tagSet}`
      : `time to detect: ${duration(facts.detectMs!)} (incident start ${hhmmss(inc.fromMs)} → ${r.alertMetric} fired ${hhmmss(facts.firedAt)} UTC, event time)`,
  );
  out.push(`alerts: ${fired.length} fired, ${r.alerts.length - fired.length} resolved`);
  for (const a of r.alerts) out.push(`  ${hhmm(a.windowEnd)} ${a.state.padEnd(8)} ${a.metric} ${JSON.stringify(a.dimensions)} = ${a.value}`);
  out.push('');
  out.push(`== What the warehouse answers (DuckDB, ${r.warehouse.rows} rows) ==`);
  out.push(`users affected: ${r.warehouse.usersAffected} (${r.warehouse.failures} failed payments)`);
  out.push(`transient (succeeded later in the same session): ${r.warehouse.transientUsers} users; blocked: ${r.warehouse.blockedUsers} users`);
  out.push(`revenue at risk: ${r.warehouse.amountAtRisk.toFixed(2)} ${r.warehouse.currency} over ${r.warehouse.ordersAtRisk} orders never paid`);
  out.push(`(the SQL is in the HTML report)`);
  out.push('');
  out.push(`== One truth: failed payments per minute and tag set ==`);
  const diffs = r.agreement.rows.filter((x) => !x.agree);
  out.push(
    diffs.length === 0
      ? `StatsD totals, warehouse distinct event ids and derived-metric sums agree in all ${r.agreement.cells} (minute, market, platform) cells.`
      : `${r.agreement.agreeing} of ${r.agreement.cells} cells agree; ${diffs.length} differ:`,
  );
  for (const d of diffs.slice(0, 20)) out.push(`  ${hhmm(d.minute)} ${d.market} ${d.platform}: StatsD ${d.statsd}, warehouse ${d.warehouse}, derived ${d.derived}`);
  if (r.derived.lateDropped > 0) out.push(`(derive dropped ${r.derived.lateDropped} late events)`);
  return out;
}
