import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { createKafkaClient, kafkaConnectionSchema, type KafkaConnectionOptions } from '../kafka/client.js';
import { deleteTopics, ensureTopics } from '../kafka/admin.js';
import { tailTopic } from '../kafka/tail.js';
import { parseOptions } from '../config/parse.js';
import { startKafka } from '../dev/kafka.js';
import { startStatsdExporter } from '../dev/statsd-exporter.js';
import { schema } from '../generated/examples.js';
import { createPublisher } from '../publisher/index.js';
import { createLoader } from '../loader/loader.js';
import { openWarehouse } from '../warehouse/open.js';
import { defineMetrics } from '../derive/definitions.js';
import { DeriveRunner } from '../derive/runner.js';
import { decodeAlert, decodeMetric, type DecodedAlert, type DecodedMetric } from '../derive/outputs.js';
import { simulateOrders } from './simulate.js';
import { demoMetrics, FAILURE_ALERT_METRIC, FAILURE_ALERT_THRESHOLD } from './rules.js';
import { renderHtml, renderTerminal, type DemoReport } from './report.js';

export interface DemoOptions {
  /** Use these brokers instead of starting a local one. */
  brokers?: string[];
  /** Or this whole connection (TLS, SASL) to an existing cluster; wins over `brokers`. */
  kafka?: KafkaConnectionOptions;
  /** Orders simulated (default 3000) by `users` users (default two thirds of the orders). */
  orders: number;
  users?: number;
  /** Simulated period in minutes (default 30); the incident covers its middle third. */
  minutes?: number;
  seed: number;
  /** Where the DuckDB file and the HTML report go (default ./multidispatch-demo). */
  outDir?: string;
  log: (line: string) => void;
}

const MIN = 60_000;
const INCIDENT = { market: 'AE', platform: 'ANDROID', failureRate: 0.7 } as const;

type Sim = ReturnType<typeof simulateOrders> extends Generator<infer T> ? T : never;

/** The event's own time: its one google.protobuf.Timestamp field (`placedAt`, `failedAt`, …). */
function eventTime(e: Sim): number {
  for (const v of Object.values(e.event)) if (v instanceof Date) return v.getTime();
  throw new Error(`${e.type} has no time field`);
}

/** Sums the exporter's counters per (event type, market, platform); only the publisher's counters carry event_type. */
async function scrapeStatsd(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*\{([^}]*)\} ([0-9.e+]+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (!labels.event_type) continue;
    const k = `${labels.event_type}|${labels.market ?? ''}|${labels.platform ?? ''}`;
    out.set(k, (out.get(k) ?? 0) + Number(m[2]));
  }
  return out;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * The main job end to end: a local broker and a real StatsD receiver; an ordering service publishing the
 * Deliveroo flow (one call per event) with an injected incident; the loader into DuckDB; the derive consumer
 * with Kitopi-style rules; then one report — terminal and HTML — of what dashboards, the warehouse and the
 * derived metrics saw, and whether they agree.
 */
export async function runDemo(o: DemoOptions): Promise<DemoReport & { reportPath: string; warehousePath: string }> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const t0 = Date.now();
  const step = (msg: string) => o.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
  try {
    // --- servers -----------------------------------------------------------------------------------------
    let brokers = o.kafka?.brokers ?? o.brokers;
    if (!brokers) {
      const dir = await mkdtemp(join(tmpdir(), 'multidispatch-demo-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const broker = await startKafka({ dataDir: join(dir, 'kafka'), onProgress: (m) => step(`kafka: ${m}`) });
      cleanups.push(() => broker.stop());
      brokers = [broker.brokers];
    }
    const exporter = await startStatsdExporter({ onProgress: (m) => step(`statsd: ${m}`) });
    cleanups.push(() => exporter.stop());

    // The same connection (TLS, SASL) for every client of the demo; each names itself with its client id.
    const conn = (clientId: string): KafkaConnectionOptions => ({ ...o.kafka, brokers: brokers!, clientId });
    const kafka = createKafkaClient(parseOptions(kafkaConnectionSchema, conn('multidispatch-demo'), 'kafka'));
    const stamp = `demo-${Date.now().toString(36)}`;
    const topics = { orders: `${stamp}.orders.v1`, heartbeat: `${stamp}.heartbeat`, metrics: `${stamp}.metrics`, alerts: `${stamp}.alerts`, dlq: `${stamp}.dlq` };
    const deriveGroup = `${stamp}-derive`;
    await ensureTopics(kafka, [{ topic: topics.orders, partitions: 3 }, { topic: topics.heartbeat, partitions: 3 }]);
    cleanups.push(() => deleteTopics(kafka, [...Object.values(topics), `${deriveGroup}-repartition`, `${deriveGroup}-changelog`]).catch(() => undefined));
    step(`topics ${topics.orders} (3 partitions) … on ${brokers.join(',')}`);

    // --- the simulated day ---------------------------------------------------------------------------------
    const minutes = o.minutes ?? 30;
    const startMs = Math.floor(Date.now() / MIN) * MIN - (minutes + 10) * MIN;
    const incident = { ...INCIDENT, fromMs: startMs + Math.round(minutes / 3) * MIN, toMs: startMs + Math.round((minutes * 3) / 5) * MIN };
    const events = [
      ...simulateOrders({ orders: o.orders, users: o.users ?? Math.ceil((o.orders * 2) / 3), seed: o.seed, startMs, spanMs: minutes * MIN, paymentFailureRate: 0.04, incident }),
    ]
      .map((e) => ({ ...e, t: eventTime(e) }))
      .sort((a, b) => a.t - b.t);
    step(`simulated ${o.orders} orders → ${events.length} events over ${minutes} min; incident: ${incident.platform} payments in ${incident.market} fail ${Math.round(incident.failureRate * 100)}% of the time, minutes ${Math.round(minutes / 3)}–${Math.round((minutes * 3) / 5)}`);

    // --- derive, started first so alerts fire as the events arrive ------------------------------------------
    const logger = pino({ level: 'error', name: 'demo-derive' }, pino.destination(2)); // alerts go into the report
    const runner = new DeriveRunner({
      kafka: conn('multidispatch-demo-derive'), schema, metrics: defineMetrics(schema, demoMetrics), group: deriveGroup,
      topics: [topics.orders, topics.heartbeat], topicRenames: { 'orders.v1': topics.orders }, metricsTopic: topics.metrics, alertsTopic: topics.alerts,
      idleMs: 5000, commitIntervalMs: 500, prometheusPort: 0, statsd: { host: exporter.host, port: exporter.port, prefix: 'derived.' }, logger,
    });
    await runner.start();
    cleanups.push(() => runner.stop());
    step(`derive consumer started (${demoMetrics.length} metrics; Prometheus on http://127.0.0.1:${runner.prometheusPort}/metrics)`);

    // --- publish minute by minute, reading the StatsD receiver after each ------------------------------------
    const publisher = createPublisher({
      schema, producer: 'demo-ordering-service', kafka: conn('multidispatch-demo'), topics: { 'orders.v1': topics.orders },
      statsd: { host: exporter.host, port: exporter.port, aggregateMs: 100, globalTags: { service: 'ordering' } },
    });
    cleanups.push(() => publisher.close());
    const statsdPerMinute = new Map<string, number>(); // `${minute}|${type}|${market}|${platform}` → count
    let before = await scrapeStatsd(exporter.metricsUrl);
    let sent = 0;
    let failed = 0;
    const byMinute = new Map<number, typeof events>();
    for (const e of events) {
      const m = Math.floor(e.t / MIN) * MIN;
      if (!byMinute.has(m)) byMinute.set(m, []);
      byMinute.get(m)!.push(e);
    }
    const minuteKeys = [...byMinute.keys()].sort((a, b) => a - b);
    for (const [i, minute] of minuteKeys.entries()) {
      const batch = byMinute.get(minute)!;
      await Promise.all(batch.map((e) => publisher.publish(e.type, e.event as never).then(() => sent++, () => failed++)));
      await publisher.flush();
      const expected = total(before) + batch.length;
      const deadline = Date.now() + 10_000;
      let now = await scrapeStatsd(exporter.metricsUrl);
      while (total(now) < expected && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        now = await scrapeStatsd(exporter.metricsUrl);
      }
      for (const [k, v] of now) {
        const d = v - (before.get(k) ?? 0);
        if (d !== 0) statsdPerMinute.set(`${minute}|${k}`, d);
      }
      before = now;
      if (i % 5 === 4 || i === minuteKeys.length - 1) step(`published minute ${i + 1}/${minuteKeys.length}: ${sent} events so far (${failed} failed); StatsD received ${total(now)}`);
    }
    await publisher.close();

    // Stream time past the last windows: one heartbeat per partition, 30 minutes after the last event.
    const hb = createPublisher({ schema, producer: 'demo-heartbeat', kafka: conn('multidispatch-demo-heartbeat'), statsd: false, topics: { 'orders.v1': topics.heartbeat } });
    const lastT = events.at(-1)!.t;
    for (let i = 0; i < 30; i++) {
      await hb.publish('orders.v1.OrderDelivered', { orderId: `heartbeat-${i}`, context: { userId: '-', sessionId: '-', deviceId: '-' }, riderId: '-', market: 'GB', platform: 'WEB', durationMinutes: 0, deliveredAt: new Date(lastT + 30 * MIN) });
    }
    await hb.close();

    // --- loader into DuckDB ----------------------------------------------------------------------------------
    const outDir = resolve(o.outDir ?? 'multidispatch-demo');
    await mkdir(outDir, { recursive: true });
    const warehousePath = join(outDir, 'warehouse.duckdb');
    await rm(warehousePath, { force: true });
    await rm(`${warehousePath}.wal`, { force: true });
    const loadStats = await createLoader(
      { kafka: conn('multidispatch-demo-loader'), schema, topics: [topics.orders], group: `${stamp}-load`, warehouse: `duckdb:${warehousePath}`, topicRenames: { 'orders.v1': topics.orders }, dlqTopic: topics.dlq },
      { logger: pino({ level: 'warn' }, pino.destination(2)) },
    ).runOnce();
    step(`loader: ${loadStats.rowsLoaded} rows into ${warehousePath} (${loadStats.deadLettered} dead-lettered)`);

    // --- wait for the derived metrics -------------------------------------------------------------------------
    step('waiting for the derive consumer to close its last windows (the heartbeat moves stream time past them)…');
    const deadline = Date.now() + 120_000;
    while (runner.stats.consumed < sent + 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const admin = kafka.admin();
    await admin.connect();
    const high = async () => (await admin.fetchTopicOffsets(topics.metrics)).reduce((a: number, p: { high: string }) => a + Number(p.high), 0);
    let last = -1;
    let stableSince = Date.now();
    while (Date.now() < deadline) {
      const h = await high();
      if (h !== last) {
        last = h;
        stableSince = Date.now();
      } else if (Date.now() - stableSince > 4000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await admin.disconnect();
    const derived: DecodedMetric[] = [];
    await tailTopic(kafka, { topic: topics.metrics, fromBeginning: true, idleMs: 3000 }, (r) => r.value && derived.push(decodeMetric(r.value)));
    const alerts: DecodedAlert[] = [];
    await tailTopic(kafka, { topic: topics.alerts, fromBeginning: true, idleMs: 1500 }, (r) => r.value && alerts.push(decodeAlert(r.value)));
    step(`derive: ${derived.length} metric values, ${alerts.length} alert transitions (${runner.stats.lateDropped} late events dropped)`);
    const deriveStats = { ...runner.stats };
    await runner.stop();

    // --- the warehouse's answers ----------------------------------------------------------------------------
    const w = await openWarehouse({ type: 'duckdb', path: warehousePath });
    cleanups.push(() => w.close());
    const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
    const segment = `MARKET = '${incident.market}' AND PLATFORM = '${incident.platform}' AND FAILED_AT >= TIMESTAMP '${iso(incident.fromMs)}' AND FAILED_AT < TIMESTAMP '${iso(incident.toMs)}'`;
    const queries = {
      usersAffected: `-- Distinct users whose payment failed in the incident (${incident.market}, ${incident.platform})
SELECT count(DISTINCT USER_ID) AS users, count(*) AS failures
FROM PAYMENT_FAILED
WHERE ${segment}`,
      transientVsBlocking: `-- Transient: the user's payment succeeded later in the same session; blocking: it never did
WITH affected AS (
  SELECT DISTINCT USER_ID, SESSION_ID FROM PAYMENT_FAILED WHERE ${segment}
), outcome AS (
  SELECT a.USER_ID, bool_or(s.SESSION_ID IS NOT NULL) AS recovered
  FROM affected a LEFT JOIN (SELECT DISTINCT SESSION_ID FROM PAYMENT_SUCCEEDED) s USING (SESSION_ID)
  GROUP BY a.USER_ID
)
SELECT count(*) FILTER (WHERE recovered) AS transient_users, count(*) FILTER (WHERE NOT recovered) AS blocked_users FROM outcome`,
      revenueAtRisk: `-- Revenue at risk: orders with a failed payment in the incident and no successful payment at all
SELECT count(*) AS orders, coalesce(sum(AMOUNT_MINOR), 0) / 100.0 AS amount, any_value(CURRENCY) AS currency
FROM (SELECT ORDER_ID, max(AMOUNT_MINOR) AS AMOUNT_MINOR, any_value(CURRENCY) AS CURRENCY FROM PAYMENT_FAILED WHERE ${segment} GROUP BY ORDER_ID)
WHERE ORDER_ID NOT IN (SELECT ORDER_ID FROM PAYMENT_SUCCEEDED)`,
      failuresPerMinute: `-- Failed payments per minute and tag set, counted by distinct event id
SELECT epoch_ms(date_trunc('minute', OCCURRED_AT)) AS minute, MARKET, PLATFORM, count(DISTINCT EVENT_ID) AS n
FROM PAYMENT_FAILED GROUP BY ALL`,
    };
    const num = (v: unknown) => Number(v ?? 0);
    const [ua] = await w.query(queries.usersAffected);
    const [tb] = await w.query(queries.transientVsBlocking);
    const [rr] = await w.query(queries.revenueAtRisk);
    const warehousePerMinute = new Map<string, number>();
    for (const r of await w.query(queries.failuresPerMinute)) warehousePerMinute.set(`${num(r.minute)}|${r.MARKET}|${r.PLATFORM}`, num(r.n));

    // --- one truth: per minute and tag set -----------------------------------------------------------------
    const statsdFailures = new Map<string, number>();
    const statsdSucceeded = new Map<string, number>(); // with the failures, the failure rate's denominator
    for (const [k, v] of statsdPerMinute) {
      const [minute, type, market, platform] = k.split('|');
      if (type === 'orders.v1.PaymentFailed') statsdFailures.set(`${minute}|${market}|${platform}`, v);
      if (type === 'orders.v1.PaymentSucceeded') statsdSucceeded.set(`${minute}|${market}|${platform}`, v);
    }
    const derivedFailures = new Map<string, number>();
    for (const v of derived) if (v.name === 'payment_failures_1m' && v.final) derivedFailures.set(`${v.windowStart}|${v.dimensions.market}|${v.dimensions.platform}`, (derivedFailures.get(`${v.windowStart}|${v.dimensions.market}|${v.dimensions.platform}`) ?? 0) + v.value);
    const cells = [...new Set([...statsdFailures.keys(), ...warehousePerMinute.keys(), ...derivedFailures.keys()])].sort();
    const rows = cells.map((k) => {
      const [minute, market, platform] = k.split('|');
      const s = statsdFailures.get(k) ?? 0;
      const wv = warehousePerMinute.get(k) ?? 0;
      const d = derivedFailures.get(k) ?? 0;
      return { minute: Number(minute), market: market!, platform: platform!, statsd: s, warehouse: wv, derived: d, agree: s === wv && wv === d };
    });
    const report: DemoReport = {
      generatedAt: new Date().toISOString(),
      orders: o.orders,
      events: events.length,
      published: sent,
      publishFailed: failed,
      publishedByType: Object.fromEntries([...new Set(events.map((e) => e.type))].sort().map((t) => [t, events.filter((e) => e.type === t).length])),
      minutes,
      incident,
      startMs,
      statsdFailures: [...statsdFailures].map(([k, v]) => ({ key: k, value: v })),
      statsdSucceeded: [...statsdSucceeded].map(([k, v]) => ({ key: k, value: v })),
      alerts: [...alerts].sort((a, b) => (a.windowEnd ?? 0) - (b.windowEnd ?? 0)).map((a) => ({ metric: a.metric, dimensions: a.dimensions, state: a.state, value: a.value, windowEnd: a.windowEnd ?? 0 })),
      alertThreshold: FAILURE_ALERT_THRESHOLD,
      alertMetric: FAILURE_ALERT_METRIC,
      warehouse: {
        rows: loadStats.rowsLoaded,
        usersAffected: num(ua?.users),
        failures: num(ua?.failures),
        transientUsers: num(tb?.transient_users),
        blockedUsers: num(tb?.blocked_users),
        ordersAtRisk: num(rr?.orders),
        amountAtRisk: num(rr?.amount),
        currency: String(rr?.currency ?? ''),
        queries,
      },
      derived: {
        values: derived.length,
        usersFailedPayment: derived
          .filter((v) => v.name === 'users_failed_payment_5m' && v.dimensions.market === incident.market && v.dimensions.platform === incident.platform)
          .map((v) => ({ windowStart: v.windowStart ?? 0, windowEnd: v.windowEnd ?? 0, value: v.value })),
        alertMetricValues: derived
          .filter((v) => v.name === FAILURE_ALERT_METRIC && v.final)
          .map((v) => ({ windowEnd: v.windowEnd ?? 0, market: v.dimensions.market ?? '', platform: v.dimensions.platform ?? '', value: v.value }))
          .sort((a, b) => a.windowEnd - b.windowEnd),
        lateDropped: deriveStats.lateDropped,
      },
      agreement: { rows, cells: rows.length, agreeing: rows.filter((r) => r.agree).length },
    };
    const reportPath = join(outDir, 'report.html');
    await writeFile(reportPath, renderHtml(report));
    await writeFile(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    o.log('');
    for (const line of renderTerminal(report)) o.log(line);
    o.log('');
    o.log(`HTML report: ${reportPath} (figures as JSON: ${join(outDir, 'report.json')})`);
    o.log(`DuckDB file: ${warehousePath} (e.g. duckdb ${warehousePath} "SELECT * FROM PAYMENT_FAILED LIMIT 5")`);
    return { ...report, reportPath, warehousePath };
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}
