/**
 * Small SVG time charts for the demo report, no dependencies: every chart of a page shares one time axis, ticks
 * are "nice" (1, 2, 5 × 10^k; whole minutes on the time axis), colours come from CSS classes so the page's dark
 * mode applies, and each chart carries <title> and <desc> for screen readers plus an HTML legend.
 *
 * @example
 * timeChart({ id: 'users', title: 'Users', desc: '…', yLabel: 'users', axis: { x0, x1 }, yMax: 9,
 *   series: [{ kind: 'line', name: 'AE ANDROID', cls: 's-inc', points: [[x0 + 300_000, 4]] }] });
 */

export interface TimeAxis {
  /** First and last instant shown, ms since epoch. */
  x0: number;
  x1: number;
}

export interface LineSeries {
  kind: 'line';
  name: string;
  /** CSS class giving the colour (s-inc, s-oth, s-users, …). */
  cls: string;
  /** [time, value]; a NaN value breaks the line (no data, e.g. no attempts that minute). */
  points: Array<[number, number]>;
  /** Hold each value until the next point (a sliding-window count), instead of joining points with slopes. */
  step?: boolean;
  /** Draw a dot at each point. */
  dots?: boolean;
}

export interface RangeSeries {
  kind: 'range';
  name: string;
  cls: string;
  /** [time, low, high]. */
  points: Array<[number, number, number]>;
}

export interface ChartSpec {
  id: string;
  title: string;
  /** What the chart shows and how to read it (the SVG's <desc>, also printed under the chart). */
  desc: string;
  yLabel: string;
  axis: TimeAxis;
  /** The largest value to fit; the axis ends at the next nice tick. */
  yMax: number;
  /** Tick label (default: the integer). */
  yFormat?: (v: number) => string;
  series: Array<LineSeries | RangeSeries>;
  incident?: { from: number; to: number; name: string };
  threshold?: { value: number; name: string };
  markers?: Array<{ at: number; state: 'firing' | 'resolved'; name: string; value?: number }>;
  /** A bracket from `from` to `to` with a label (time to detect). */
  span?: { from: number; to: number; label: string };
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);
const f1 = (n: number) => n.toFixed(1);

/** 0, step, 2·step, … up to the first multiple ≥ max, with step 1, 2 or 5 × 10^k (at least 1: counts are whole). */
export function niceTicks(max: number, target = 5): number[] {
  const raw = Math.max(max, 1) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw - 1e-9)!);
  const top = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const out: number[] = [];
  for (let v = 0; v <= top + 1e-9; v += step) out.push(Math.round(v));
  return out;
}

/** Whole-minute instants in [x0, x1], every 1, 2, 5, 10, 15, 30 or 60 minutes: at most `max` of them. */
export function timeTicks(axis: TimeAxis, max = 10): number[] {
  const MIN = 60_000;
  const step = [1, 2, 5, 10, 15, 30, 60, 120].map((m) => m * MIN).find((s) => (axis.x1 - axis.x0) / s <= max) ?? 240 * MIN;
  const out: number[] = [];
  for (let t = Math.ceil(axis.x0 / step) * step; t <= axis.x1; t += step) out.push(t);
  return out;
}

const W = 860;
const H = 250;
const PAD = { l: 56, r: 16, t: 26, b: 30 };

/** One chart: an HTML legend, then the SVG, then its description as a note. */
export function timeChart(c: ChartSpec): string {
  const { x0, x1 } = c.axis;
  const ticks = niceTicks(c.yMax);
  const yTop = ticks.at(-1)!;
  const X = (x: number) => PAD.l + ((x - x0) / Math.max(1, x1 - x0)) * (W - PAD.l - PAD.r);
  const Y = (y: number) => H - PAD.b - (y / yTop) * (H - PAD.t - PAD.b);
  const fmt = c.yFormat ?? ((v: number) => String(v));
  const plot = { x: PAD.l, y: PAD.t, w: W - PAD.l - PAD.r, h: H - PAD.t - PAD.b };
  const p: string[] = [];
  p.push(`<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-labelledby="${c.id}-title ${c.id}-desc" data-chart="${c.id}">`);
  p.push(`<title id="${c.id}-title">${esc(c.title)}</title><desc id="${c.id}-desc">${esc(c.desc)}</desc>`);
  p.push(`<defs><clipPath id="${c.id}-clip"><rect x="${plot.x}" y="${plot.y - 2}" width="${plot.w}" height="${plot.h + 4}"/></clipPath></defs>`);
  if (c.incident) {
    const a = Math.max(X(c.incident.from), plot.x);
    const b = Math.min(X(c.incident.to), plot.x + plot.w);
    p.push(`<rect class="incident" x="${f1(a)}" y="${plot.y}" width="${f1(Math.max(1, b - a))}" height="${plot.h}"><title>${esc(c.incident.name)}</title></rect>`);
  }
  for (const v of ticks) {
    p.push(`<line class="grid" x1="${plot.x}" x2="${plot.x + plot.w}" y1="${f1(Y(v))}" y2="${f1(Y(v))}"/>`);
    p.push(`<text class="ax ytick" x="${plot.x - 6}" y="${f1(Y(v) + 4)}" text-anchor="end">${esc(fmt(v))}</text>`);
  }
  for (const t of timeTicks(c.axis)) {
    p.push(`<line class="tick" x1="${f1(X(t))}" x2="${f1(X(t))}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h + 4}"/>`);
    p.push(`<text class="ax xtick" x="${f1(X(t))}" y="${H - 10}" text-anchor="middle">${hhmm(t)}</text>`);
  }
  p.push(`<text class="ax" x="${plot.x}" y="${PAD.t - 12}">${esc(c.yLabel)}</text>`);
  p.push(`<g clip-path="url(#${c.id}-clip)">`);
  for (const s of c.series) {
    if (s.kind === 'range') {
      const pts = [...s.points].sort((a, b) => a[0] - b[0]);
      if (pts.length === 0) continue;
      const up = pts.map((q) => `${f1(X(q[0]))},${f1(Y(q[2]))}`);
      const down = pts.reverse().map((q) => `${f1(X(q[0]))},${f1(Y(q[1]))}`);
      p.push(`<polygon class="range ${s.cls}" points="${[...up, ...down].join(' ')}"><title>${esc(s.name)}</title></polygon>`);
      continue;
    }
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    let d = '';
    let open = false;
    for (const [x, y] of pts) {
      if (Number.isNaN(y)) {
        open = false;
        continue;
      }
      if (!open) d += `M${f1(X(x))},${f1(Y(y))}`;
      else d += s.step ? `H${f1(X(x))}V${f1(Y(y))}` : `L${f1(X(x))},${f1(Y(y))}`;
      open = true;
    }
    if (s.step && open) d += `H${f1(plot.x + plot.w)}`;
    p.push(`<path class="line ${s.cls}" d="${d}"><title>${esc(s.name)}</title></path>`);
    if (s.dots) for (const [x, y] of pts) if (!Number.isNaN(y)) p.push(`<circle class="dot ${s.cls}" cx="${f1(X(x))}" cy="${f1(Y(y))}" r="2.5"><title>${esc(`${s.name}, ${hhmm(x)}: ${fmt(y)}`)}</title></circle>`);
  }
  p.push('</g>');
  if (c.threshold) {
    const y = f1(Y(c.threshold.value));
    p.push(`<line class="threshold" data-value="${c.threshold.value}" x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}"><title>${esc(c.threshold.name)}</title></line>`);
    p.push(`<text class="ax thr-label" x="${plot.x + 4}" y="${f1(Y(c.threshold.value) - 5)}">${esc(c.threshold.name)}</text>`);
  }
  for (const m of c.markers ?? []) {
    if (m.at < x0 || m.at > x1) continue;
    const x = f1(X(m.at));
    p.push(`<g class="marker marker-${m.state}" data-at="${new Date(m.at).toISOString()}"><title>${esc(`${m.name} at ${hhmmss(m.at)} UTC`)}</title>`);
    p.push(`<line x1="${x}" x2="${x}" y1="${plot.y}" y2="${plot.y + plot.h}"/>`);
    if (m.value !== undefined) p.push(`<circle cx="${x}" cy="${f1(Y(m.value))}" r="4.5"/>`);
    p.push(`<text class="mk-label" x="${x}" y="${plot.y - 4}" text-anchor="${m.state === 'firing' ? 'end' : 'start'}" dx="${m.state === 'firing' ? -3 : 3}">${esc(`${m.state === 'firing' ? 'fired' : 'resolved'} ${hhmmss(m.at)}`)}</text></g>`);
  }
  if (c.span && c.span.to > c.span.from) {
    const a = f1(X(c.span.from));
    const b = f1(X(c.span.to));
    const y = plot.y + 14;
    p.push(`<g class="span"><path d="M${a},${y - 5}V${y + 5}M${a},${y}H${b}M${b},${y - 5}V${y + 5}"/><text x="${f1(X(c.span.from) + 4)}" y="${y + 16}">${esc(c.span.label)}</text></g>`);
  }
  p.push('</svg>');
  return `<figure class="panel" id="${c.id}"><figcaption>${esc(c.title)}</figcaption>${legend(c)}${p.join('')}<p class="note">${esc(c.desc)}</p></figure>`;
}

/** The legend, as HTML (readable text, selectable, no extra SVG). */
function legend(c: ChartSpec): string {
  const items: string[] = [];
  const item = (sw: string, name: string) => items.push(`<li><span class="sw ${sw}" aria-hidden="true"></span>${esc(name)}</li>`);
  for (const s of c.series) item(s.kind === 'range' ? `sw-range ${s.cls}` : `sw-line ${s.cls}`, s.name);
  if (c.threshold) item('sw-threshold', c.threshold.name);
  if (c.incident) item('sw-incident', c.incident.name);
  for (const m of c.markers ?? []) item(`sw-marker sw-${m.state}`, `${m.name} ${hhmmss(m.at)} UTC`);
  return `<ul class="legend" aria-label="Legend: ${esc(c.title)}">${items.join('')}</ul>`;
}
