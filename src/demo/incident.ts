import type { DemoReport } from './report.js';

/**
 * The facts an on-call engineer asks first, computed from a DemoReport without I/O: when the alert for the
 * incident's tag set fired and resolved, how long detection took, and the failure rate per minute of that tag set
 * against the others. Kept apart from the rendering so the terminal and HTML say the same numbers.
 */
export interface IncidentFacts {
  /** `${market} ${platform}` of the incident. */
  tagSet: string;
  /** The first firing of the failure alert for the incident's tag set at or after the incident start (event time). */
  firedAt: number | undefined;
  /** The first resolve after that firing. */
  resolvedAt: number | undefined;
  /** firedAt − incident start. */
  detectMs: number | undefined;
  /** Failed / (failed + succeeded) payments of the incident's tag set over the incident's minutes (StatsD counts). */
  measuredRate: number | undefined;
  /** Per minute (its start, ms), the incident tag set's and every other tag set's counts. */
  minutes: number[];
  /** The incident's tag set and the others, by `${market}|${platform}`. */
  perSet: Map<string, { failed: Map<number, number>; succeeded: Map<number, number> }>;
}

const MIN = 60_000;
export const setKey = (market: string, platform: string) => `${market}|${platform}`;

/** Alerts of the failure rule on the incident's tag set (the ones the incident is about). */
export function isIncidentAlert(r: DemoReport, a: DemoReport['alerts'][number]): boolean {
  return a.metric === r.alertMetric && a.dimensions.market === r.incident.market && a.dimensions.platform === r.incident.platform;
}

/** See IncidentFacts. */
export function incidentFacts(r: DemoReport): IncidentFacts {
  const inc = r.incident;
  const perSet: IncidentFacts['perSet'] = new Map();
  const add = (rows: DemoReport['statsdFailures'], field: 'failed' | 'succeeded') => {
    for (const { key, value } of rows) {
      const [m, market, platform] = key.split('|');
      const k = setKey(market!, platform!);
      if (!perSet.has(k)) perSet.set(k, { failed: new Map(), succeeded: new Map() });
      perSet.get(k)![field].set(Number(m), value);
    }
  };
  add(r.statsdFailures, 'failed');
  add(r.statsdSucceeded, 'succeeded');
  const all = [...r.statsdFailures, ...r.statsdSucceeded].map((x) => Number(x.key.split('|')[0]));
  const minutes: number[] = [];
  if (all.length) for (let m = Math.min(...all); m <= Math.max(...all); m += MIN) minutes.push(m);

  const mine = r.alerts.filter((a) => isIncidentAlert(r, a)).sort((a, b) => a.windowEnd - b.windowEnd);
  const fired = mine.find((a) => a.state === 'firing' && a.windowEnd >= inc.fromMs);
  const resolved = fired && mine.find((a) => a.state === 'resolved' && a.windowEnd > fired.windowEnd);

  const s = perSet.get(setKey(inc.market, inc.platform));
  let failed = 0;
  let succeeded = 0;
  for (const m of minutes) {
    if (m < inc.fromMs || m >= inc.toMs) continue;
    failed += s?.failed.get(m) ?? 0;
    succeeded += s?.succeeded.get(m) ?? 0;
  }
  return {
    tagSet: `${inc.market} ${inc.platform}`,
    firedAt: fired?.windowEnd,
    resolvedAt: resolved?.windowEnd,
    detectMs: fired ? fired.windowEnd - inc.fromMs : undefined,
    measuredRate: failed + succeeded > 0 ? failed / (failed + succeeded) : undefined,
    minutes,
    perSet,
  };
}

/** "3 min 20 s", "45 s", "2 min". */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  const rest = s % 60;
  return m === 0 ? `${rest} s` : rest === 0 ? `${m} min` : `${m} min ${rest} s`;
}

export const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
export const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** The one line at the top of the report: what happened, when it was detected, how many users, how much money. */
export function summaryLine(r: DemoReport, f: IncidentFacts): string {
  const inc = r.incident;
  const w = r.warehouse;
  const span = `from ${hhmm(inc.fromMs)} to ${hhmm(inc.toMs)} UTC`;
  const what = f.measuredRate === undefined ? `${f.tagSet} payments failed ${span}` : `${Math.round(f.measuredRate * 100)}% of ${f.tagSet} payment attempts failed ${span}`;
  const when =
    f.firedAt === undefined
      ? `the ${r.alertMetric} alert did not fire`
      : `the ${r.alertMetric} alert fired at ${hhmmss(f.firedAt)}, ${duration(f.detectMs!)} after the start${f.resolvedAt === undefined ? ' (not resolved)' : `, and resolved at ${hhmmss(f.resolvedAt)}`}`;
  const money = `${w.amountAtRisk.toFixed(2)} ${w.currency} at risk over ${w.ordersAtRisk} unpaid orders`;
  return `${what}; ${when}; ${w.usersAffected} users affected (${w.blockedUsers} blocked, ${w.transientUsers} paid on retry); ${money}.`;
}
