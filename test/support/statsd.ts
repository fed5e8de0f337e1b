/** statsd_exporter helpers for tests run through `npm test` (which starts one exporter for the suite). */

export interface Exporter {
  host: string;
  /** UDP port for StatsD lines. */
  port: number;
  metricsUrl: string;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The suite exporter from STATSD_EXPORTER_HOST/PORT/METRICS_URL; throws a clear error when unset. */
export function exporter(): Exporter {
  const { STATSD_EXPORTER_HOST: host, STATSD_EXPORTER_PORT: port, STATSD_EXPORTER_METRICS_URL: metricsUrl } = process.env;
  if (!host || !port || !metricsUrl) {
    throw new Error('STATSD_EXPORTER_HOST/PORT/METRICS_URL are not set: run the tests with `npm test`, which starts statsd_exporter');
  }
  return { host, port: Number(port), metricsUrl };
}

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/** Parses `name{a="b",c="d\"e"} 1.5 [timestamp]` lines of the Prometheus text format; comments are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) continue;
    const name = nameMatch[0];
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        const key = line.slice(i, eq).trim();
        i = eq + 2; // skip ="
        let value = '';
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\') {
            const next = line[i + 1];
            value += next === 'n' ? '\n' : (next ?? '');
            i += 2;
          } else {
            value += line[i++];
          }
        }
        labels[key] = value;
        i++; // closing quote
        if (line[i] === ',') i++;
      }
      i++; // closing brace
    }
    const [value] = line.slice(i).trim().split(/\s+/);
    if (value !== undefined) samples.push({ name, labels, value: parseValue(value) });
  }
  return samples;
}

/** GETs `metricsUrl` (default: the suite exporter) and parses it. */
export async function scrape(metricsUrl: string = exporter().metricsUrl): Promise<Sample[]> {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${metricsUrl}: HTTP ${res.status}`);
  return parsePrometheusText(await res.text());
}

/** Scrapes every 100 ms until a sample matches `predicate`; rejects after `timeoutMs` with the closest names seen. */
export async function waitForSample(
  predicate: (s: Sample) => boolean,
  timeoutMs = 10_000,
  metricsUrl: string = exporter().metricsUrl,
): Promise<Sample> {
  const deadline = Date.now() + timeoutMs;
  let last: Sample[] = [];
  for (;;) {
    last = await scrape(metricsUrl);
    const hit = last.find(predicate);
    if (hit) return hit;
    if (Date.now() > deadline) {
      const names = [...new Set(last.map((s) => s.name).filter((n) => !/^(go|process|promhttp|statsd_exporter)_/.test(n)))];
      throw new Error(`no matching sample on ${metricsUrl} within ${timeoutMs} ms; non-internal metrics seen: ${names.join(', ') || '(none)'}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
