import protobuf from 'protobufjs';
import type { Aggregation } from './aggregates.js';
import { drainChanges, type StateEntry } from './state.js';
import { isClosed, isLate, windowsOf, type WindowSpec } from './windows.js';

export interface WindowResult {
  group: string;
  start: number;
  end: number;
  value: number;
  /** Percentiles: the value at each of the aggregation's quantiles. */
  quantiles?: number[];
}

interface OpenWindow<A> {
  group: string;
  start: number;
  end: number;
  acc: A;
}

/**
 * Aggregates per (group, window) for one partition and emits each window once, when it is final.
 *
 * State is kept per key, the unit of the changelog: an open tumbling/hopping window is the key
 * `<group>\0<start>` → its accumulator; a sliding-window group is the key `<group>` → the events it keeps and
 * the evaluation points still open. Every key written since the last `changes()` is reported once, with its
 * encoded state, or with null when it was forgotten (a final window): a tombstone, so a compacted changelog keeps
 * only live state.
 */
export class WindowStore<A, V = number> {
  /** Open tumbling/hopping windows by key. */
  private readonly open = new Map<string, OpenWindow<A>>();
  /** Sliding: events kept per group while an open window may still need them, and the open evaluation points. */
  private readonly events = new Map<string, Array<{ t: number; v: V }>>();
  private readonly points = new Map<string, number[]>();
  /** The earliest end among open windows: closeReady does nothing (O(1)) until stream time makes it final. */
  private minEnd = Number.POSITIVE_INFINITY;
  private readonly dirty = new Set<string>();
  lateDropped = 0;

  constructor(
    readonly spec: WindowSpec,
    private readonly agg: Aggregation<A, V>,
  ) {}

  /** Adds one event unless it is late at `streamTime` (the time after observing it). */
  add(group: string, t: number, value: V, streamTime: number): 'added' | 'late' {
    if (isLate(this.spec, t, streamTime)) {
      this.lateDropped++;
      return 'late';
    }
    if (this.spec.kind === 'sliding') {
      let list = this.events.get(group);
      if (!list) this.events.set(group, (list = []));
      list.push({ t, v: value });
      // Evaluated as of the event, and as of the moment it leaves the window: the value goes down again (and
      // an alert resolves) when traffic stops, not only when the next event arrives.
      let pts = this.points.get(group);
      if (!pts) this.points.set(group, (pts = []));
      pts.push(t, t + this.spec.sizeMs);
      if (t < this.minEnd) this.minEnd = t;
      this.dirty.add(group);
      return 'added';
    }
    for (const w of windowsOf(this.spec, t)) {
      if (isClosed(this.spec, w.end, streamTime)) continue; // this one is final already; later ones are not
      const key = `${group}\u0000${w.start}`;
      let entry = this.open.get(key);
      if (!entry) {
        this.open.set(key, (entry = { group, start: w.start, end: w.end, acc: this.agg.init() }));
        if (w.end < this.minEnd) this.minEnd = w.end;
      }
      entry.acc = this.agg.add(entry.acc, value);
      this.dirty.add(key);
    }
    return 'added';
  }

  private result(group: string, start: number, end: number, acc: A): WindowResult {
    const r: WindowResult = { group, start, end, value: this.agg.result(acc) };
    if (this.agg.quantiles) r.quantiles = this.agg.quantiles.map((q) => this.agg.quantile!(acc, q));
    return r;
  }

  private slidingAcc(group: string, end: number): A {
    let acc = this.agg.init();
    for (const e of this.events.get(group) ?? []) if (e.t > end - this.spec.sizeMs && e.t <= end) acc = this.agg.add(acc, e.v);
    return acc;
  }

  /**
   * The current (not final) values of the windows an event at `t` of `group` was just added to: for emit
   * 'update'. Sliding: the window ending at `t`.
   */
  current(group: string, t: number): WindowResult[] {
    if (this.spec.kind === 'sliding') {
      return [this.result(group, t - this.spec.sizeMs, t, this.slidingAcc(group, t))];
    }
    const out: WindowResult[] = [];
    for (const w of windowsOf(this.spec, t)) {
      const entry = this.open.get(`${group}\u0000${w.start}`);
      if (entry) out.push(this.result(group, entry.start, entry.end, entry.acc));
    }
    return out;
  }

  /** Removes and returns every window final at `streamTime`, ordered by end, then group. */
  closeReady(streamTime: number): WindowResult[] {
    if (!isClosed(this.spec, this.minEnd, streamTime)) return [];
    const out: WindowResult[] = [];
    let minEnd = Number.POSITIVE_INFINITY;
    if (this.spec.kind === 'sliding') {
      for (const [group, pts] of this.points) {
        const still: number[] = [];
        for (const end of pts) {
          if (!isClosed(this.spec, end, streamTime)) {
            still.push(end);
            if (end < minEnd) minEnd = end;
            continue;
          }
          out.push(this.result(group, end - this.spec.sizeMs, end, this.slidingAcc(group, end)));
        }
        if (still.length === pts.length) continue;
        this.dirty.add(group);
        // Forget events no open or future window of the group can include: a future window ends at
        // ≥ streamTime − grace (an earlier event would be late), so it reaches back to that minus the size.
        const horizon = Math.min(streamTime - this.spec.graceMs, ...still) - this.spec.sizeMs;
        const kept = (this.events.get(group) ?? []).filter((e) => e.t > horizon);
        if (still.length === 0) this.points.delete(group);
        else this.points.set(group, still);
        if (kept.length === 0) this.events.delete(group);
        else this.events.set(group, kept);
      }
    } else {
      for (const [key, w] of this.open) {
        if (!isClosed(this.spec, w.end, streamTime)) {
          if (w.end < minEnd) minEnd = w.end;
          continue;
        }
        out.push(this.result(w.group, w.start, w.end, w.acc));
        this.open.delete(key);
        this.dirty.add(key);
      }
    }
    this.minEnd = minEnd;
    return out.sort((a, b) => a.end - b.end || a.start - b.start || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  private encode(key: string): Uint8Array | null {
    const w = protobuf.Writer.create();
    if (this.spec.kind === 'sliding') {
      const events = this.events.get(key);
      const pts = this.points.get(key);
      if (!events && !pts) return null;
      w.uint32(events?.length ?? 0);
      for (const e of events ?? []) {
        w.double(e.t);
        this.agg.writeValue(e.v, w);
      }
      w.uint32(pts?.length ?? 0);
      for (const p of pts ?? []) w.double(p);
      return w.finish();
    }
    const entry = this.open.get(key);
    if (!entry) return null;
    this.agg.write(entry.acc, w);
    return w.finish();
  }

  /** Every key written since the last call, with its state (null: forgotten), and forgets that they were. */
  changes(): StateEntry[] {
    return drainChanges(this.dirty, (key) => this.encode(key));
  }

  /** Every live key with its state (a full snapshot). */
  entries(): Array<[string, Uint8Array]> {
    const keys = this.spec.kind === 'sliding' ? new Set([...this.events.keys(), ...this.points.keys()]) : this.open.keys();
    return [...keys].map((k) => [k, this.encode(k)!]);
  }

  /** Restores one key from its changelog state. */
  load(key: string, bytes: Uint8Array): void {
    const r = protobuf.Reader.create(bytes);
    if (this.spec.kind === 'sliding') {
      const events: Array<{ t: number; v: V }> = [];
      for (let n = r.uint32(); n > 0; n--) events.push({ t: r.double(), v: this.agg.readValue(r) });
      const pts: number[] = [];
      for (let n = r.uint32(); n > 0; n--) pts.push(r.double());
      if (events.length > 0) this.events.set(key, events);
      if (pts.length > 0) this.points.set(key, pts);
      for (const p of pts) if (p < this.minEnd) this.minEnd = p;
      return;
    }
    const cut = key.lastIndexOf('\u0000');
    const start = Number(key.slice(cut + 1));
    if (cut < 0 || !Number.isFinite(start)) throw new RangeError(`window state key ${JSON.stringify(key)} has no window start`);
    const end = start + this.spec.sizeMs;
    this.open.set(key, { group: key.slice(0, cut), start, end, acc: this.agg.read(r) });
    if (end < this.minEnd) this.minEnd = end;
  }

  /** Windows still open (sliding: evaluation points still open). */
  get openWindows(): number {
    if (this.spec.kind !== 'sliding') return this.open.size;
    let n = 0;
    for (const pts of this.points.values()) n += pts.length;
    return n;
  }

  /** Live state keys. */
  get size(): number {
    return this.spec.kind === 'sliding' ? new Set([...this.events.keys(), ...this.points.keys()]).size : this.open.size;
  }
}
