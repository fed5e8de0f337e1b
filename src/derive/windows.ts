/**
 * Window semantics of the derived-metric consumer. Pure functions and small state machines, no I/O: the
 * consumer feeds events (event time from the envelope's occurred-at) and asks which windows closed.
 *
 * - tumbling(size): windows [k·size, (k+1)·size), each event in exactly one.
 * - hopping(size, advance): windows [k·advance, k·advance + size), each event in size/advance of them.
 * - sliding(size): trailing windows (T − size, T] evaluated at every event time T = t_e ("how many in the last
 *   10 minutes, as of this event" — the form alert rules need) and at every T = t_e + size, the moment e leaves
 *   the window, so the value falls (and alerts resolve) when traffic stops. Late events with t ≤ T within the
 *   grace period still count.
 *
 * Every window has a grace period: it is final (emitted, then forgotten) when stream time ≥ end + grace.
 * Stream time is the largest event time seen (per partition), like Kafka Streams — and, unlike Kafka Streams,
 * it also advances with the wall clock once the input has been idle for `idleMs`, so windows close when
 * traffic stops. An event whose every window is already final is late: it is dropped and counted.
 */

export type WindowSpec =
  | { kind: 'tumbling'; sizeMs: number; graceMs: number }
  | { kind: 'hopping'; sizeMs: number; advanceMs: number; graceMs: number }
  | { kind: 'sliding'; sizeMs: number; graceMs: number };

export interface WindowBounds {
  /** Inclusive start, ms since epoch (for sliding windows: exclusive, see the module comment). */
  start: number;
  /** Exclusive end (for sliding windows: inclusive, the event's own time). */
  end: number;
}

const floorDiv = (a: number, b: number): number => Math.floor(a / b);

/** The tumbling or hopping windows an event at `t` belongs to, oldest first. Sliding: the event's own window. */
export function windowsOf(spec: WindowSpec, t: number): WindowBounds[] {
  switch (spec.kind) {
    case 'tumbling': {
      const start = floorDiv(t, spec.sizeMs) * spec.sizeMs;
      return [{ start, end: start + spec.sizeMs }];
    }
    case 'hopping': {
      const out: WindowBounds[] = [];
      const last = floorDiv(t, spec.advanceMs) * spec.advanceMs;
      for (let start = last; start > t - spec.sizeMs; start -= spec.advanceMs) out.push({ start, end: start + spec.sizeMs });
      return out.reverse();
    }
    case 'sliding':
      return [{ start: t - spec.sizeMs, end: t }];
  }
}

/** True when a window ending at `end` is final at stream time `streamTime`. */
export function isClosed(spec: WindowSpec, end: number, streamTime: number): boolean {
  // Tumbling/hopping ends are exclusive, so the window [s, e) is complete once stream time reaches e; a
  // sliding window (…, T] includes T, so it is complete only once stream time has passed T (an event at
  // exactly T still belongs to it). Either way it stays open `graceMs` longer for late events.
  return spec.kind === 'sliding' ? streamTime > end + spec.graceMs : streamTime >= end + spec.graceMs;
}

/** True when every window of an event at `t` is already final: the event is late and is dropped. */
export function isLate(spec: WindowSpec, t: number, streamTime: number): boolean {
  const ws = windowsOf(spec, t);
  return ws.every((w) => isClosed(spec, w.end, streamTime));
}

/**
 * Stream time of one partition: the largest event time seen, advanced by the wall clock once no event
 * arrived for `idleMs` (by the wall time elapsed since the last event). `idleMs = 0` turns that off.
 */
export class StreamClock {
  private maxEventTime = Number.NEGATIVE_INFINITY;
  private lastEventWall = 0;

  constructor(private readonly idleMs: number) {}

  observe(eventTime: number, wallNow: number): void {
    // An idle advance that already happened is kept: stream time never goes backwards.
    this.maxEventTime = Math.max(this.maxEventTime, this.now(wallNow), eventTime);
    this.lastEventWall = wallNow;
  }

  /** Moves stream time to `t` if that is later (a watermark from upstream). */
  advanceTo(t: number, wallNow: number): void {
    if (t > this.maxEventTime) {
      this.maxEventTime = t;
      this.lastEventWall = wallNow;
    }
  }

  /** Current stream time (−Infinity before the first event). */
  now(wallNow: number): number {
    if (this.maxEventTime === Number.NEGATIVE_INFINITY) return this.maxEventTime;
    const idle = wallNow - this.lastEventWall;
    return this.idleMs > 0 && idle >= this.idleMs ? this.maxEventTime + idle : this.maxEventTime;
  }

  /** For state snapshots (changelog) and restore. */
  snapshot(): { maxEventTime: number; lastEventWall: number } {
    return { maxEventTime: this.maxEventTime, lastEventWall: this.lastEventWall };
  }

  restore(s: { maxEventTime: number; lastEventWall: number }): void {
    this.maxEventTime = s.maxEventTime;
    this.lastEventWall = s.lastEventWall;
  }
}

/** `'5m'`, `'30s'`, `'1h'`, `'250ms'` or a number of ms → ms. Throws with the text when it is not a duration. */
export function parseDuration(input: string | number, what = 'duration'): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new RangeError(`${what} must be a non-negative number of ms, got ${input}`);
    return input;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(input);
  if (!m) throw new RangeError(`${what} ${JSON.stringify(input)} is not a duration like '250ms', '30s', '5m', '1h' or '1d'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}

export function tumbling(size: string | number, opts: { grace?: string | number } = {}): WindowSpec {
  const sizeMs = parseDuration(size, 'tumbling window size');
  if (sizeMs <= 0) throw new RangeError('tumbling window size must be > 0');
  return { kind: 'tumbling', sizeMs, graceMs: parseDuration(opts.grace ?? 0, 'grace') };
}

export function hopping(size: string | number, advance: string | number, opts: { grace?: string | number } = {}): WindowSpec {
  const sizeMs = parseDuration(size, 'hopping window size');
  const advanceMs = parseDuration(advance, 'hopping window advance');
  if (sizeMs <= 0 || advanceMs <= 0) throw new RangeError('hopping window size and advance must be > 0');
  if (advanceMs > sizeMs) throw new RangeError(`hopping window advance (${advanceMs} ms) must not exceed its size (${sizeMs} ms)`);
  return { kind: 'hopping', sizeMs, advanceMs, graceMs: parseDuration(opts.grace ?? 0, 'grace') };
}

export function sliding(size: string | number, opts: { grace?: string | number } = {}): WindowSpec {
  const sizeMs = parseDuration(size, 'sliding window size');
  if (sizeMs <= 0) throw new RangeError('sliding window size must be > 0');
  return { kind: 'sliding', sizeMs, graceMs: parseDuration(opts.grace ?? 0, 'grace') };
}
