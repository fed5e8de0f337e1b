/**
 * `multidispatch demo` end to end (a shortened configuration) against the suite's broker: the three views of the
 * incident agree per minute and tag set, and their totals equal the events the simulation published; a second
 * run into the same folder works.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DemoReport } from '../../src/demo/report.js';
import { brokers } from '../support/kafka.js';

const demo = (args: string[]) => spawnSync(process.execPath, ['bin/multidispatch.js', 'demo', ...args], { encoding: 'utf8', timeout: 240_000 });

describe('multidispatch demo', () => {
  it('StatsD, the warehouse and the derived metric agree per minute and tag set, and with what was published; a second run works', (t) => {
    const out = mkdtempSync(join(tmpdir(), 'md-demo-'));
    t.after(() => rmSync(out, { recursive: true, force: true }));
    for (const seed of ['7', '8']) {
      const r = demo(['--orders', '1500', '--minutes', '12', '--seed', seed, '--brokers', brokers().join(','), '--out', out]);
      assert.equal(r.status, 0, `demo (seed ${seed}) failed:\n${r.stderr}\n${r.stdout}`);
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as DemoReport;
      const failedPublished = report.publishedByType['orders.v1.PaymentFailed']!;
      assert.equal(report.publishFailed, 0);
      assert.equal(report.published, report.events);
      assert.equal(report.warehouse.rows, report.published, 'every published event is in the warehouse');
      assert.ok(report.agreement.cells > 20, `cells: ${report.agreement.cells}`);
      assert.equal(report.agreement.agreeing, report.agreement.cells, JSON.stringify(report.agreement.rows.filter((x) => !x.agree)));
      const sum = (k: 'statsd' | 'warehouse' | 'derived') => report.agreement.rows.reduce((a, x) => a + x[k], 0);
      assert.equal(sum('statsd'), failedPublished);
      assert.equal(sum('warehouse'), failedPublished);
      assert.equal(sum('derived'), failedPublished);
      // The incident shows in every view: the alert fired for its market and platform, the warehouse counts users.
      const { market, platform } = report.incident;
      assert.ok(report.alerts.some((a) => a.metric === 'payment_failures_10m' && a.state === 'firing' && a.dimensions.market === market && a.dimensions.platform === platform), JSON.stringify(report.alerts));
      assert.ok(report.warehouse.usersAffected > 0 && report.warehouse.transientUsers + report.warehouse.blockedUsers === report.warehouse.usersAffected);
      // What the report's panels are drawn from: the rate's denominator and the alert's own metric crossing its threshold.
      assert.equal(report.statsdSucceeded.reduce((a, x) => a + x.value, 0), report.publishedByType['orders.v1.PaymentSucceeded']);
      assert.ok(report.derived.alertMetricValues.some((v) => v.market === market && v.platform === platform && v.value >= report.alertThreshold));
      assert.ok(report.derived.usersFailedPayment.every((u) => u.windowEnd - u.windowStart === 5 * 60_000));
      assert.match(r.stdout, /agree in all \d+ \(minute, market, platform\) cells/);
      assert.match(r.stdout, /time to detect: \d+ (min|s)/);
      const html = readFileSync(join(out, 'report.html'), 'utf8');
      assert.match(html, /One truth: do the three views agree\?/);
      assert.match(html, /<p class="summary" id="summary">[^<]* alert fired at \d\d:\d\d:\d\d, [^<]* users affected/);
      assert.ok(existsSync(join(out, 'warehouse.duckdb')));
    }
  });

  it('bad options are usage errors (exit 2)', () => {
    let r = demo(['--orders', 'many']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--orders must be a positive integer/);
    r = demo(['--minutes', '3']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--minutes must be at least 6/);
  });
});
