import { timeChart, type ChartSpec, type LineSeries, type TimeAxis } from './charts.js';
import { duration, hhmm, hhmmss, incidentFacts, isIncidentAlert, setKey, summaryLine, type IncidentFacts } from './incident.js';
import type { DemoReport } from './report.js';

const MIN = 60_000;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** One axis for every chart: the simulated period through the last value shown (and the alert's resolve). */
function sharedAxis(r: DemoReport, f: IncidentFacts): TimeAxis {
  const ends = [r.incident.toMs, ...(f.minutes.length ? [f.minutes.at(-1)! + MIN] : []), ...r.derived.usersFailedPayment.map((u) => u.windowEnd), f.resolvedAt ?? 0];
  const x0 = Math.min(r.startMs, f.minutes[0] ?? r.startMs);
  return { x0: Math.floor(x0 / MIN) * MIN, x1: Math.ceil(Math.max(...ends) / MIN) * MIN };
}

function markers(r: DemoReport, f: IncidentFacts, withValues: boolean): NonNullable<ChartSpec['markers']> {
  const valueAt = (t: number) => (withValues ? r.alerts.find((a) => isIncidentAlert(r, a) && a.windowEnd === t)?.value : undefined);
  const out: NonNullable<ChartSpec['markers']> = [];
  if (f.firedAt !== undefined) out.push({ at: f.firedAt, state: 'firing', name: 'alert fired', value: valueAt(f.firedAt) });
  if (f.resolvedAt !== undefined) out.push({ at: f.resolvedAt, state: 'resolved', name: 'alert resolved', value: valueAt(f.resolvedAt) });
  return out;
}

/** Failed / (failed + succeeded) payments per minute: the incident's tag set, the others as a min–max band and pooled. */
function rateChart(r: DemoReport, f: IncidentFacts, axis: TimeAxis): string {
  const inc = setKey(r.incident.market, r.incident.platform);
  const others = [...f.perSet.keys()].filter((k) => k !== inc);
  const pct = (failed: number, succeeded: number) => (failed + succeeded > 0 ? Math.round((failed / (failed + succeeded)) * 1000) / 10 : NaN);
  const mine: Array<[number, number]> = [];
  const band: Array<[number, number, number]> = [];
  const pooled: Array<[number, number]> = [];
  for (const m of f.minutes) {
    const s = f.perSet.get(inc);
    mine.push([m + MIN, pct(s?.failed.get(m) ?? 0, s?.succeeded.get(m) ?? 0)]);
    const rates = others.map((k) => pct(f.perSet.get(k)!.failed.get(m) ?? 0, f.perSet.get(k)!.succeeded.get(m) ?? 0)).filter((x) => !Number.isNaN(x));
    if (rates.length) band.push([m + MIN, Math.min(...rates), Math.max(...rates)]);
    const sum = (field: 'failed' | 'succeeded') => others.reduce((a, k) => a + (f.perSet.get(k)![field].get(m) ?? 0), 0);
    pooled.push([m + MIN, pct(sum('failed'), sum('succeeded'))]);
  }
  return timeChart({
    id: 'panel-rate',
    title: `Payment failure rate per minute: ${f.tagSet} against the other ${others.length} market and platform tag sets (StatsD)`,
    desc:
      `Share of the payment attempts that ended in a failure, per minute: failed ÷ (failed + succeeded), from the publisher's StatsD counters orders.v1.PaymentFailed and orders.v1.PaymentSucceeded, plotted at the end of the minute. ` +
      `Every attempt ends in exactly one of the two; outcomes rather than orders.v1.PaymentAttempted are the denominator because an attempt is counted seconds before its outcome, often in the minute before, which would put a minute's rate above 100%. ` +
      `The grey band spans the lowest to the highest rate among the other tag sets (each has only a few attempts a minute, hence the noise); the dashed line pools them. ` +
      `The alert rule does not use this rate: it counts failures, see the next chart.`,
    yLabel: 'failed ÷ (failed + succeeded) payments',
    axis,
    yMax: 100,
    yFormat: (v) => `${v}%`,
    series: [
      { kind: 'range', name: `other ${others.length} tag sets: lowest to highest`, cls: 's-oth', points: band },
      { kind: 'line', name: `other ${others.length} tag sets, pooled`, cls: 's-pool', points: pooled },
      { kind: 'line', name: `${f.tagSet} (the incident's tag set)`, cls: 's-inc', points: mine, dots: true },
    ],
    incident: { from: r.incident.fromMs, to: r.incident.toMs, name: `injected incident ${hhmm(r.incident.fromMs)}–${hhmm(r.incident.toMs)} UTC` },
    markers: markers(r, f, false),
  });
}

/** The alert's own metric (sliding 10-minute failure count) with its threshold, firing and resolving, and time to detect. */
function alertChart(r: DemoReport, f: IncidentFacts, axis: TimeAxis): string {
  const mineKey = setKey(r.incident.market, r.incident.platform);
  const mine: LineSeries['points'] = [[axis.x0, 0]];
  const highestOther: LineSeries['points'] = [[axis.x0, 0]];
  const latest = new Map<string, number>();
  for (const v of r.derived.alertMetricValues) {
    const k = setKey(v.market, v.platform);
    if (k === mineKey) mine.push([v.windowEnd, v.value]);
    else {
      latest.set(k, v.value);
      highestOther.push([v.windowEnd, Math.max(...latest.values())]);
    }
  }
  const yMax = Math.max(r.alertThreshold * 1.2, ...mine.map((p) => p[1]), ...highestOther.map((p) => p[1]));
  const detect =
    f.firedAt === undefined
      ? `The alert did not fire for ${f.tagSet}.`
      : `Time to detect: incident start ${hhmmss(r.incident.fromMs)} → alert fired ${hhmmss(f.firedAt)} UTC = ${duration(f.detectMs!)} (event time; the alert is published once that window's grace period has passed).`;
  return timeChart({
    id: 'panel-alert',
    title: `The alert's metric: failed payments in the trailing 10 minutes, ${f.tagSet} (${r.alertMetric}, derived)`,
    desc:
      `The derived metric ${r.alertMetric} as the derive consumer computed it: failed payments of one market and platform in the 10 minutes up to each failure (and up to the moment each failure leaves the window), held until the next evaluation. ` +
      `The rule fires when the count reaches ${r.alertThreshold} and resolves when it falls below. ${detect}`,
    yLabel: 'failed payments in 10 min',
    axis,
    yMax,
    series: [
      { kind: 'line', name: 'highest of the other tag sets', cls: 's-pool', points: highestOther, step: true },
      { kind: 'line', name: `${f.tagSet} (the incident's tag set)`, cls: 's-inc', points: mine, step: true },
    ],
    threshold: { value: r.alertThreshold, name: `alert threshold: ≥ ${r.alertThreshold} failures in 10 min` },
    incident: { from: r.incident.fromMs, to: r.incident.toMs, name: `injected incident ${hhmm(r.incident.fromMs)}–${hhmm(r.incident.toMs)} UTC` },
    markers: markers(r, f, true),
    span: f.firedAt === undefined ? undefined : { from: r.incident.fromMs, to: f.firedAt, label: `time to detect ${duration(f.detectMs!)}` },
  });
}

function usersChart(r: DemoReport, f: IncidentFacts, axis: TimeAxis): string {
  const points: Array<[number, number]> = r.derived.usersFailedPayment.map((u) => [u.windowEnd, u.value]);
  return timeChart({
    id: 'panel-users',
    title: `Distinct users with a failed payment per 5 minutes, ${f.tagSet} (users_failed_payment_5m, derived, HyperLogLog)`,
    desc: `Each point is one tumbling 5-minute window, plotted at the window's end: the users counted there had their payment fail during the 5 minutes before the point.`,
    yLabel: 'users per 5 min',
    axis,
    yMax: Math.max(1, ...points.map((p) => p[1])),
    series: [{ kind: 'line', name: `${f.tagSet}: distinct users, 5-minute windows`, cls: 's-users', points, dots: true }],
    incident: { from: r.incident.fromMs, to: r.incident.toMs, name: `injected incident ${hhmm(r.incident.fromMs)}–${hhmm(r.incident.toMs)} UTC` },
    markers: markers(r, f, false),
  });
}

function alertTable(rows: DemoReport['alerts']): string {
  const tr = rows
    .map((a) => `<tr class="${a.state === 'firing' ? 'bad' : ''}"><td>${hhmmss(a.windowEnd)}</td><td>${a.state}</td><td>${esc(a.metric)}</td><td>${esc(Object.entries(a.dimensions).map(([k, v]) => `${k}=${v}`).join(' '))}</td><td>${a.value}</td></tr>`)
    .join('');
  return `<table><thead><tr><th scope="col">window end (UTC)</th><th scope="col">state</th><th scope="col">metric</th><th scope="col">dimensions</th><th scope="col">value</th></tr></thead><tbody>${tr}</tbody></table>`;
}

const words = (k: string) => k.replace(/([A-Z])/g, ' $1').toLowerCase();

// Copy buttons: the Clipboard API where the page is a secure context (file:// is), else select the text and
// execCommand('copy'); the outcome is announced in a live region.
const SCRIPT = `(function(){
var status=document.getElementById('copy-status');
function said(b,msg){b.textContent=msg;status.textContent=msg;setTimeout(function(){b.textContent='Copy';},1500);}
function select(pre,b){var r=document.createRange();r.selectNodeContents(pre);var s=window.getSelection();s.removeAllRanges();s.addRange(r);var ok=false;try{ok=document.execCommand('copy');}catch(e){}said(b,ok?'Copied':'Selected: press Ctrl+C');}
document.addEventListener('click',function(e){var b=e.target&&e.target.closest?e.target.closest('button[data-copy]'):null;if(!b)return;
var pre=document.getElementById(b.getAttribute('data-copy'));if(!pre)return;
if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(pre.textContent).then(function(){said(b,'Copied');},function(){select(pre,b);});}else select(pre,b);});
})();`;

const CSS = `:root{--bg:#fff;--fg:#1d2733;--muted:#4f5d6b;--grid:#e3e8ee;--code:#f3f5f8;--inc:#c62828;--oth:#8a96a3;--pool:#4f5d6b;--users:#1f5fa8;--thr:#7a4d00;--band:#fbe3e0;--fire:#b3261e;--res:#1b7a3a;--ok:#1b7a3a}
@media (prefers-color-scheme: dark){:root{--bg:#14181d;--fg:#e6e9ee;--muted:#aab4bf;--grid:#2c333b;--code:#1d232a;--inc:#ff7a70;--oth:#7d8894;--pool:#b9c2cc;--users:#7ab3ff;--thr:#f0b64a;--band:#3d2323;--fire:#ff8a80;--res:#6fd38f;--ok:#6fd38f}}
html{background:var(--bg);color:var(--fg)}
body{font:15px/1.45 system-ui,sans-serif;max-width:940px;margin:2em auto;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid var(--grid)}
.summary{font-size:1.05em;font-weight:600;border-left:4px solid var(--inc);padding:.5em .8em;background:var(--code)}
figure.panel{margin:1.2em 0 1.6em}figcaption{font-weight:600;font-size:.95em;margin-bottom:.3em}
.note{color:var(--muted);font-size:13px;margin:.2em 0}
ul.legend{list-style:none;padding:0;margin:.2em 0 .4em;font-size:13px;display:flex;flex-wrap:wrap;gap:.2em 1.2em}
.sw{display:inline-block;width:22px;height:0;vertical-align:middle;margin-right:.4em}
.sw-line{border-top:3px solid currentColor}.sw-range{height:10px;background:var(--oth);opacity:.35}
.sw-threshold{border-top:2px dashed var(--thr)}.sw-incident{height:10px;background:var(--band)}
.sw-marker{width:0;height:14px;border-left:2px dashed}.sw-firing{border-color:var(--fire)}.sw-resolved{border-color:var(--res)}
.sw.s-inc{color:var(--inc)}.sw.s-pool{color:var(--pool);border-top-style:dashed}.sw.s-users{color:var(--users)}
svg text{fill:var(--muted);font-size:12px}svg .grid{stroke:var(--grid)}svg .tick{stroke:var(--muted)}svg .incident{fill:var(--band)}
svg .line{fill:none;stroke-width:2;stroke-linejoin:round}svg .line.s-inc{stroke:var(--inc);stroke-width:2.5}svg .line.s-pool{stroke:var(--pool);stroke-dasharray:5 3;stroke-width:1.5}svg .line.s-users{stroke:var(--users)}
svg .dot.s-inc{fill:var(--inc)}svg .dot.s-users{fill:var(--users)}svg .range.s-oth{fill:var(--oth);opacity:.3}
svg .threshold{stroke:var(--thr);stroke-width:1.5;stroke-dasharray:6 4}svg .thr-label{fill:var(--thr);font-weight:600}
svg .marker line{stroke-width:1.5;stroke-dasharray:3 3}svg .marker-firing line{stroke:var(--fire)}svg .marker-resolved line{stroke:var(--res)}
svg .marker-firing circle{fill:var(--fire)}svg .marker-resolved circle{fill:var(--res)}svg .marker-firing .mk-label{fill:var(--fire);font-weight:600}svg .marker-resolved .mk-label{fill:var(--res);font-weight:600}
svg .span path{stroke:var(--fg);fill:none;stroke-width:1.2}svg .span text{fill:var(--fg);font-weight:600}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 10px;border-bottom:1px solid var(--grid);text-align:left}
tr.bad td,.bad{color:var(--fire)}.ok{color:var(--ok);font-weight:600}p.bad{font-weight:600}
details{margin:.6em 0}summary{cursor:pointer;color:var(--muted)}
.sql{margin:.8em 0}.sql-head{display:flex;justify-content:space-between;align-items:center;font-size:13px;color:var(--muted)}
pre{background:var(--code);color:var(--fg);padding:.8em;margin:.2em 0;font-size:12.5px;white-space:pre-wrap;overflow-wrap:anywhere}
button.copy{font:inherit;font-size:12px;padding:2px 10px;border:1px solid var(--muted);border-radius:4px;background:var(--bg);color:var(--fg);cursor:pointer}
button.copy:focus-visible{outline:2px solid var(--users);outline-offset:2px}
.kpi{display:inline-block;margin:0 1.5em 1em 0}.kpi b{display:block;font-size:1.6em}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}`;

/**
 * The HTML page, pure (DemoReport → string) and self-contained: inline CSS, SVG and one small script (copy
 * buttons); a Content-Security-Policy forbids every network request, so the file reads the same offline.
 */
export function renderHtml(r: DemoReport): string {
  const inc = r.incident;
  const f = incidentFacts(r);
  const axis = sharedAxis(r, f);
  const seg = setKey(inc.market, inc.platform);
  const diffs = r.agreement.rows.filter((x) => !x.agree);
  const verdict =
    diffs.length === 0
      ? `<p class="ok">✔ StatsD totals, warehouse distinct event ids and derived-metric sums agree in all ${r.agreement.cells} (minute, market, platform) cells.</p>`
      : `<p class="bad">✘ ${diffs.length} of ${r.agreement.cells} cells differ (table below). A StatsD datagram lost on the way, a record not yet loaded, or a late event dropped by derive${r.derived.lateDropped ? ` (${r.derived.lateDropped} late events were dropped)` : ''} would each show here.</p>`;
  const agreeRows = (diffs.length ? diffs : r.agreement.rows.filter((x) => setKey(x.market, x.platform) === seg))
    .map((x) => `<tr class="${x.agree ? '' : 'bad'}"><td>${hhmm(x.minute)}</td><td>${esc(x.market)}</td><td>${esc(x.platform)}</td><td>${x.statsd}</td><td>${x.warehouse}</td><td>${x.derived}</td><td>${x.agree ? '✔' : '✘'}</td></tr>`)
    .join('');
  const mine = r.alerts.filter((a) => isIncidentAlert(r, a));
  const rest = r.alerts.filter((a) => !isIncidentAlert(r, a));
  const alerts = `${mine.length ? alertTable(mine) : `<p>No ${esc(r.alertMetric)} alert for ${esc(f.tagSet)}.</p>`}
${rest.length ? `<details id="other-alerts"><summary>${rest.length} other alert transition${rest.length === 1 ? '' : 's'} (other rules or tag sets, not this incident)</summary>${alertTable(rest)}</details>` : ''}`;
  const sql = Object.entries(r.warehouse.queries)
    .map(([k, q]) => `<div class="sql"><div class="sql-head"><span>${esc(words(k))}</span><button type="button" class="copy" data-copy="sql-${esc(k)}" aria-label="Copy the SQL: ${esc(words(k))}">Copy</button></div><pre id="sql-${esc(k)}"><code>${esc(q)}</code></pre></div>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>multidispatch demo: ${esc(f.tagSet)} payment incident, three views</title>
<style>
${CSS}
</style></head><body>
<h1>One incident, three views</h1>
<p class="summary" id="summary">${esc(summaryLine(r, f))}</p>
<p>${r.orders} simulated orders (${r.published} events published with one <code>publish()</code> call each${r.publishFailed ? `, ${r.publishFailed} failed` : ''}) over ${r.minutes} minutes.
Injected incident: ${esc(inc.platform)} payments in ${esc(inc.market)} fail ${Math.round(inc.failureRate * 100)}% of the time, ${hhmm(inc.fromMs)}–${hhmm(inc.toMs)} UTC.
All times are UTC, on one time axis; values of a window are plotted at the window's end. Generated ${esc(r.generatedAt)}.</p>
<h2>What the dashboards saw (StatsD counters, derived alerts)</h2>
${rateChart(r, f, axis)}
${alertChart(r, f, axis)}
<p>Alert rule: <code>${esc(r.alertMetric)}</code> ≥ ${r.alertThreshold} failed payments of one market and platform within 10 minutes (sliding window). Its transitions for ${esc(f.tagSet)}:</p>
${alerts}
<h2>What the warehouse answers (DuckDB, ${r.warehouse.rows} rows)</h2>
<div class="kpi"><b>${r.warehouse.usersAffected}</b>users affected</div>
<div class="kpi"><b>${r.warehouse.transientUsers}</b>transient (paid later in the session)</div>
<div class="kpi"><b>${r.warehouse.blockedUsers}</b>blocked</div>
<div class="kpi"><b>${r.warehouse.amountAtRisk.toFixed(2)} ${esc(r.warehouse.currency)}</b>revenue at risk (${r.warehouse.ordersAtRisk} orders never paid)</div>
${usersChart(r, f, axis)}
<p>The queries behind these figures (DuckDB SQL; the PAYMENT_FAILED and PAYMENT_SUCCEEDED views are the loader's):</p>
${sql}
<p class="sr-only" aria-live="polite" id="copy-status"></p>
<h2>One truth: do the three views agree?</h2>
${verdict}
<p>Per minute (event time) and tag set: failed payments as StatsD counted them (the receiver read after each simulated minute was published), as the warehouse holds them (distinct event ids), and as the derived metric <code>payment_failures_1m</code> summed them.
${diffs.length ? 'The cells that differ:' : `The incident's tag set, minute by minute:`}</p>
<table><thead><tr><th scope="col">minute</th><th scope="col">market</th><th scope="col">platform</th><th scope="col">StatsD</th><th scope="col">warehouse</th><th scope="col">derived</th><th scope="col">agree</th></tr></thead><tbody>${agreeRows}</tbody></table>
<script>${SCRIPT}</script>
</body></html>
`;
}
