/**
 * renderHtml on a captured DemoReport, without running the demo: the summary line, the incident panels (legend,
 * threshold, markers, ticks, one time axis), the alert table filtered to the incident, and a page that loads
 * nothing from the network and labels every chart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderHtml } from '../../src/demo/report.js';
import { demoReportFixture } from './fixture.js';

const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const figure = (html: string, id: string) => {
  const m = new RegExp(`<figure class="panel" id="${id}">([\\s\\S]*?)</figure>`).exec(html);
  assert.ok(m, `no figure ${id}`);
  return m[1]!;
};

describe('demo report HTML', () => {
  const r = demoReportFixture();
  const html = renderHtml(r);
  const { market, platform } = r.incident;
  const mine = (a: (typeof r.alerts)[number]) => a.metric === r.alertMetric && a.dimensions.market === market && a.dimensions.platform === platform;
  const fired = r.alerts.filter(mine).find((a) => a.state === 'firing' && a.windowEnd >= r.incident.fromMs);

  it('opens with one summary line: what, when detected (and how long it took), users, money', () => {
    assert.ok(fired, 'the fixture has the incident alert firing');
    const summary = /<p class="summary" id="summary">([^<]*)<\/p>/.exec(html)?.[1];
    assert.ok(summary, 'no summary line');
    const detectS = Math.round((fired.windowEnd - r.incident.fromMs) / 1000);
    const detect = `${Math.floor(detectS / 60)} min${detectS % 60 ? ` ${detectS % 60} s` : ''}`;
    assert.match(summary, new RegExp(`^\\d+% of ${market} ${platform} payment attempts failed `));
    assert.ok(summary.includes(`from ${hhmm(r.incident.fromMs)} to ${hhmm(r.incident.toMs)} UTC`), summary);
    assert.ok(summary.includes(`alert fired at ${hhmmss(fired.windowEnd)}, ${detect} after the start`), summary);
    assert.ok(summary.includes(`${r.warehouse.usersAffected} users affected (${r.warehouse.blockedUsers} blocked`), summary);
    assert.ok(summary.includes(`${r.warehouse.amountAtRisk.toFixed(2)} ${r.warehouse.currency} at risk over ${r.warehouse.ordersAtRisk} unpaid orders`), summary);
  });

  it('the rate panel names the incident tag set and the others in a legend, with no unlabelled lines', () => {
    const rate = figure(html, 'panel-rate');
    const legend = /<ul class="legend"[^>]*>([\s\S]*?)<\/ul>/.exec(rate)![1]!;
    const others = new Set(r.statsdFailures.map((x) => x.key.split('|').slice(1).join(' '))).size - 1;
    for (const name of [`${market} ${platform} (the incident's tag set)`, `other ${others} tag sets: lowest to highest`, `other ${others} tag sets, pooled`, 'injected incident', 'alert fired']) {
      assert.ok(legend.includes(name), `legend lacks ${name}: ${legend}`);
    }
    const paths = [...rate.matchAll(/<(path|polygon) class="(line|range) [^"]*"[^>]*>(<title>[^<]+<\/title>)?/g)];
    assert.equal(paths.length, 3, 'one band and two lines, not one line per tag set');
    assert.ok(paths.every((p) => p[3]), 'every line has a title');
    assert.deepEqual([...rate.matchAll(/class="ax ytick"[^>]*>([^<]*)</g)].map((m) => m[1]), ['0%', '20%', '40%', '60%', '80%', '100%']);
  });

  it("the alert panel draws the threshold on the alert's own metric, the firing and resolving markers and the time to detect", () => {
    const alert = figure(html, 'panel-alert');
    const thr = /<line class="threshold" data-value="(\d+)" [^>]*y1="([\d.]+)"/.exec(alert);
    assert.ok(thr, 'no threshold line');
    assert.equal(Number(thr[1]), r.alertThreshold);
    // The line sits where the y axis says 12 is.
    const ticks = [...alert.matchAll(/<text class="ax ytick" x="[\d.]+" y="([\d.]+)"[^>]*>(\d+)</g)].map((m) => ({ y: Number(m[1]) - 4, v: Number(m[2]) }));
    const [a, b] = [ticks[0]!, ticks.at(-1)!];
    assert.ok(Math.abs(Number(thr[2]) - (a.y + ((b.y - a.y) * (r.alertThreshold - a.v)) / (b.v - a.v))) < 0.2);
    assert.match(alert, new RegExp(`<g class="marker marker-firing" data-at="${new Date(fired!.windowEnd).toISOString()}">`));
    assert.match(alert, /<g class="marker marker-resolved" data-at="/);
    assert.match(alert, /<g class="span">.*time to detect \d+ min/);
    assert.match(alert, new RegExp(`≥ ${r.alertThreshold} failures in 10 min`));
  });

  it('every chart: integer ticks, the same time axis, windowed values at the window end', () => {
    const ids = ['panel-rate', 'panel-alert', 'panel-users'];
    const xticks = ids.map((id) => [...figure(html, id).matchAll(/class="ax xtick" x="([\d.]+)"[^>]*>(\d\d:\d\d)</g)].map((m) => `${m[1]}@${m[2]}`).join(' '));
    assert.ok(xticks[0]!.length > 0);
    assert.equal(new Set(xticks).size, 1, `the charts' time axes differ:\n${xticks.join('\n')}`);
    const minutes = xticks[0]!.split(' ').map((t) => t.split('@')[1]!).map((s) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3)));
    const steps = new Set(minutes.slice(1).map((m, i) => (m - minutes[i]! + 1440) % 1440));
    assert.equal(steps.size, 1, 'evenly spaced');
    assert.ok([1, 2, 5, 10, 15, 30, 60].includes([...steps][0]!));
    for (const id of ids) for (const m of figure(html, id).matchAll(/class="ax ytick"[^>]*>([^<]*)</g)) assert.match(m[1]!, /^\d+%?$/, `${id} tick ${m[1]}`);
    const users = figure(html, 'panel-users');
    const dots = [...users.matchAll(/<circle class="dot s-users"[^>]*><title>[^<]*, (\d\d:\d\d): (\d+)<\/title>/g)].map((m) => `${m[1]}=${m[2]}`);
    assert.deepEqual(dots, r.derived.usersFailedPayment.map((u) => `${hhmm(u.windowEnd)}=${u.value}`).sort());
  });

  it("the alert table shows the incident's transitions; the other rules' are in a closed <details>", () => {
    const before = html.slice(html.indexOf('What the dashboards saw'), html.indexOf('<details id="other-alerts"'));
    const top = /<table>[\s\S]*?<\/table>/.exec(before)![0];
    assert.equal([...top.matchAll(/<tr class="[^"]*"><td>/g)].length, r.alerts.filter(mine).length);
    assert.ok(!top.includes('rejections_'), 'no rejection alerts in the incident table');
    const details = /<details id="other-alerts">([\s\S]*?)<\/details>/.exec(html)?.[1];
    assert.ok(details, 'no <details> for the other alerts');
    assert.match(details, /<summary>\d+ other alert transitions? \(/);
    assert.ok(details.includes('rejections_'));
  });

  it('SQL wraps and has copy buttons; self-contained (nothing from the network); every <svg> has a <title>', () => {
    const n = Object.keys(r.warehouse.queries).length;
    assert.equal([...html.matchAll(/<button type="button" class="copy" data-copy="sql-\w+" aria-label="Copy the SQL: [^"]+">Copy<\/button><\/div><pre id="sql-\w+">/g)].length, n);
    assert.match(html, /pre\{[^}]*white-space:pre-wrap/);
    assert.match(html, /@media \(prefers-color-scheme: dark\)/);
    assert.doesNotMatch(html, /\b(src|href|action|poster|data)\s*=\s*["']?\s*(https?:)?\/\//i);
    assert.doesNotMatch(html, /url\(\s*["']?\s*(https?:)?\/\//i);
    assert.doesNotMatch(html, /@import|<link\b|<iframe\b|<img\b[^>]*src=["']?[^d"']/i);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
    const svgs = [...html.matchAll(/<svg\b[^>]*>(<title id="([^"]+)">[^<]+<\/title><desc id="[^"]+">[^<]+<\/desc>)?/g)];
    assert.equal(svgs.length, 3);
    for (const s of svgs) assert.ok(s[1], `an <svg> without <title>/<desc>: ${s[0]}`);
  });

  it('renders a run too small to have failures (no StatsD counts, no alerts, no derived values)', () => {
    const empty = { ...r, statsdFailures: [], statsdSucceeded: [], alerts: [], derived: { ...r.derived, usersFailedPayment: [], alertMetricValues: [] }, agreement: { rows: [], cells: 0, agreeing: 0 } };
    const page = renderHtml(empty);
    assert.match(page, /the payment_failures_10m alert did not fire/);
    assert.doesNotMatch(page, /NaN|Infinity|undefined/);
    assert.equal([...page.matchAll(/<svg\b/g)].length, 3);
  });

  it('says so when the alert did not fire', () => {
    const quiet = { ...r, alerts: r.alerts.filter((a) => !mine(a)) };
    const page = renderHtml(quiet);
    assert.match(page, /<p class="summary" id="summary">[^<]*the payment_failures_10m alert did not fire;/);
    assert.doesNotMatch(page, /class="marker marker-firing"|class="span"/);
    assert.match(page, /No payment_failures_10m alert for/);
  });
});
