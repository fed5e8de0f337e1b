import { readFileSync } from 'node:fs';
import type { DemoReport } from '../../src/demo/report.js';

/**
 * A DemoReport captured from a real `multidispatch demo` run (`--orders 3000 --minutes 30 --seed 7`,
 * report.json), plus one rejection alert when the run had none, so the "other alerts" path is always exercised.
 */
export function demoReportFixture(): DemoReport {
  const r = JSON.parse(readFileSync(new URL('../fixtures/demo-report.json', import.meta.url), 'utf8')) as DemoReport;
  if (!r.alerts.some((a) => a.metric !== r.alertMetric)) {
    r.alerts.push({ metric: 'rejections_10m', dimensions: { restaurant_id: 'rest-3' }, state: 'firing', value: 3, windowEnd: r.incident.toMs + 120_000 });
  }
  return r;
}
