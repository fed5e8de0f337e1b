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
  alerts: Array<{ metric: string; dimensions: Record<string, string>; state: 'firing' | 'resolved'; value: number; windowEnd: number }>;
  alertThreshold: number;
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
  derived: { values: number; usersFailedPayment: Array<{ windowStart: number; value: number }>; lateDropped: number };
  agreement: {
    rows: Array<{ minute: number; market: string; platform: string; statsd: number; warehouse: number; derived: number; agree: boolean }>;
    cells: number;
    agreeing: number;
  };
}

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

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

interface Series {
  name: string;
  points: Array<[number, number]>;
  color: string;
  width: number;
}

/** A small SVG line chart (no dependencies): x = time, y = value, with an optional shaded band. */
function lineChart(series: Series[], opts: { band?: [number, number]; title: string; yLabel: string }): string {
  const W = 760;
  const H = 260;
  const pad = { l: 48, r: 12, t: 12, b: 28 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  if (xs.length === 0) return `<p>${esc(opts.title)}: no data</p>`;
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  const y1 = Math.max(1, ...ys);
  const X = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const Y = (y: number) => H - pad.b - (y / y1) * (H - pad.t - pad.b);
  const parts: string[] = [`<h3>${esc(opts.title)}</h3><svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(opts.title)}">`];
  if (opts.band) parts.push(`<rect x="${X(opts.band[0])}" y="${pad.t}" width="${Math.max(1, X(opts.band[1]) - X(opts.band[0]))}" height="${H - pad.t - pad.b}" class="band"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (y1 * i) / 4;
    parts.push(`<line x1="${pad.l}" x2="${W - pad.r}" y1="${Y(v)}" y2="${Y(v)}" class="grid"/><text x="${pad.l - 6}" y="${Y(v) + 4}" class="ax" text-anchor="end">${Math.round(v)}</text>`);
  }
  const step = Math.max(60_000, Math.ceil((x1 - x0) / 8 / 60_000) * 60_000);
  for (let x = Math.ceil(x0 / step) * step; x <= x1; x += step) parts.push(`<text x="${X(x)}" y="${H - 8}" class="ax" text-anchor="middle">${hhmm(x)}</text>`);
  for (const s of series) {
    const d = s.points
      .sort((a, b) => a[0] - b[0])
      .map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`)
      .join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width}"><title>${esc(s.name)}</title></path>`);
  }
  parts.push(`<text x="${pad.l + 6}" y="${pad.t + 10}" class="ax">${esc(opts.yLabel)}</text></svg>`);
  return parts.join('');
}

/** The HTML page: self-contained (inline CSS and SVG), no scripts. */
export function renderHtml(r: DemoReport): string {
  const inc = r.incident;
  const seg = `${inc.market}|${inc.platform}`;
  const bySet = new Map<string, Array<[number, number]>>();
  for (const { key, value } of r.statsdFailures) {
    const [m, market, platform] = key.split('|');
    const k = `${market}|${platform}`;
    if (!bySet.has(k)) bySet.set(k, []);
    bySet.get(k)!.push([Number(m), value]);
  }
  // Minutes without a failure are zeros, not gaps.
  const minutes = r.statsdFailures.map((x) => Number(x.key.split('|')[0]));
  const first = Math.min(...minutes);
  const last = Math.max(...minutes);
  for (const points of bySet.values()) {
    const have = new Set(points.map((p) => p[0]));
    for (let m = first; m <= last; m += 60_000) if (!have.has(m)) points.push([m, 0]);
  }
  const series: Series[] = [...bySet].map(([k, points]) => ({ name: k.replace('|', ' '), points, color: k === seg ? '#d62728' : '#9aa5b1', width: k === seg ? 2.5 : 1 }));
  series.sort((a, b) => a.width - b.width); // the incident's line on top
  const chart = lineChart(series, { band: [inc.fromMs, inc.toMs], title: `Failed payments per minute by market and platform (StatsD); red: ${inc.market} ${inc.platform}, shaded: the incident`, yLabel: 'failures / min' });
  const users = lineChart([{ name: 'distinct users', points: r.derived.usersFailedPayment.map((u) => [u.windowStart, u.value]), color: '#1f77b4', width: 2 }], {
    band: [inc.fromMs, inc.toMs], title: `Distinct users with a failed payment per 5 minutes, ${inc.market} ${inc.platform} (derived metric, HyperLogLog)`, yLabel: 'users',
  });
  const diffs = r.agreement.rows.filter((x) => !x.agree);
  const verdict =
    diffs.length === 0
      ? `<p class="ok">✔ StatsD totals, warehouse distinct event ids and derived-metric sums agree in all ${r.agreement.cells} (minute, market, platform) cells.</p>`
      : `<p class="bad">✘ ${diffs.length} of ${r.agreement.cells} cells differ (table below). A StatsD datagram lost on the way, a record not yet loaded, or a late event dropped by derive${r.derived.lateDropped ? ` (${r.derived.lateDropped} late events were dropped)` : ''} would each show here.</p>`;
  const agreeRows = (diffs.length ? diffs : r.agreement.rows.filter((x) => `${x.market}|${x.platform}` === seg))
    .map((x) => `<tr class="${x.agree ? '' : 'bad'}"><td>${hhmm(x.minute)}</td><td>${esc(x.market)}</td><td>${esc(x.platform)}</td><td>${x.statsd}</td><td>${x.warehouse}</td><td>${x.derived}</td><td>${x.agree ? '✔' : '✘'}</td></tr>`)
    .join('');
  const alertRows = r.alerts
    .map((a) => `<tr class="${a.state === 'firing' ? 'bad' : ''}"><td>${hhmm(a.windowEnd)}</td><td>${a.state}</td><td>${esc(a.metric)}</td><td>${esc(Object.entries(a.dimensions).map(([k, v]) => `${k}=${v}`).join(' '))}</td><td>${a.value}</td></tr>`)
    .join('');
  const q = r.warehouse.queries;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>multidispatch demo: one incident, three views</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;color:#1d2733}
h1{font-size:1.5em}h3{font-size:.95em;margin:1.2em 0 .3em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #dde3ea}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 10px;border-bottom:1px solid #eef1f4;text-align:left}
tr.bad td{color:#b3261e}.ok{color:#1b7f3b;font-weight:600}.bad{color:#b3261e;font-weight:600}
pre{background:#f5f7f9;padding:.8em;overflow:auto;font-size:12.5px}
svg .t{font-size:13px;font-weight:600;fill:#1d2733}svg .ax{font-size:11px;fill:#5b6b7b}svg .grid{stroke:#eef1f4}svg .band{fill:#fde8e6}
.kpi{display:inline-block;margin:0 1.5em 1em 0}.kpi b{display:block;font-size:1.6em}
</style></head><body>
<h1>One incident, three views</h1>
<p>${r.orders} simulated orders (${r.published} events published with one <code>publish()</code> call each${r.publishFailed ? `, ${r.publishFailed} failed` : ''}) over ${r.minutes} minutes.
Injected incident: ${esc(inc.platform)} payments in ${esc(inc.market)} fail ${Math.round(inc.failureRate * 100)}% of the time, ${hhmm(inc.fromMs)}–${hhmm(inc.toMs)} UTC.
Generated ${esc(r.generatedAt)}.</p>
<h2>What the dashboards saw (StatsD counters, derived alerts)</h2>
${chart}
<p>Alert rule: <code>payment_failures_10m</code> ≥ ${r.alertThreshold} failed payments of one market and platform within 10 minutes (sliding window), plus Kitopi's rejection rules.</p>
${alertRows ? `<table><tr><th>window end</th><th>state</th><th>metric</th><th>dimensions</th><th>value</th></tr>${alertRows}</table>` : '<p>No alert fired.</p>'}
<h2>What the warehouse answers (DuckDB, ${r.warehouse.rows} rows)</h2>
<div class="kpi"><b>${r.warehouse.usersAffected}</b>users affected</div>
<div class="kpi"><b>${r.warehouse.transientUsers}</b>transient (paid later in the session)</div>
<div class="kpi"><b>${r.warehouse.blockedUsers}</b>blocked</div>
<div class="kpi"><b>${r.warehouse.amountAtRisk.toFixed(2)} ${esc(r.warehouse.currency)}</b>revenue at risk (${r.warehouse.ordersAtRisk} orders never paid)</div>
${Object.values(q).map((sql) => `<pre>${esc(sql)}</pre>`).join('\n')}
${users}
<h2>One truth: do the three views agree?</h2>
${verdict}
<p>Per minute (event time) and tag set: failed payments as StatsD counted them (the receiver read after each simulated minute was published), as the warehouse holds them (distinct event ids), and as the derived metric <code>payment_failures_1m</code> summed them.
${diffs.length ? 'The cells that differ:' : `The incident's tag set, minute by minute:`}</p>
<table><tr><th>minute</th><th>market</th><th>platform</th><th>StatsD</th><th>warehouse</th><th>derived</th><th></th></tr>${agreeRows}</table>
</body></html>
`;
}
