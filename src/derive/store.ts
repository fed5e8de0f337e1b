import protobuf from 'protobufjs';
import type { Aggregation } from './aggregates.js';
import { drainChanges, type StateEntry, type StateReader } from './state.js';
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

/** Starts are written fixed-width so that keys sort by start (a range scan finds the windows that can close). */
const START_DIGITS = 15;
export const windowKey = (group: string, start: number): string =>
  `${start < 0 ? '-' : ''}${String(Math.abs(start)).padStart(START_DIGITS, '0')}\u0000${group}`;

/** `<start>\0<group>`. */
function parseWindowKey(key: string): { group: string; start: number } {
  const cut = key.indexOf('\u0000');
  const head = key.slice(0, cut);
  if (cut > 0 && /^-?\d+$/.test(head)) return { group: key.slice(cut + 1), start: Number(head) };
  throw new RangeError(
    /\u0000\d+$/.test(key)
      ? `window state key ${JSON.stringify(key)} is in the layout of an earlier version (<group>\\0<start>); start this job with a new --group (or delete its changelog topics) to rebuild its state`
      : `window state key ${JSON.stringify(key)} has no window start`,
  );
}

/**
 * Aggregates per (group, window) for one partition and emits each window once, when it is final.
 *
 * State is kept per key, the unit of the changelog: an open tumbling/hopping window is the key
 * `<start>\0<group>` (start fixed-width, so keys sort by time) → its accumulator; a sliding-window group is the
 * key `<group>` → the events it keeps and the evaluation points still open. Every key written since the last
 * `changes()` is reported once, with its encoded state, or with null when it was forgotten (a final window): a
 * tombstone, so a compacted changelog keeps only live state.
 *
 * **Spilled** (tumbling/hopping, with a `backing`): the committed state lives on local disk and `open` is a cache —
 * every window changed since its state was last saved, and recently used ones up to `cacheKeys`. A window not in
 * the cache is read from the backing when an event needs it; windows that can close are found by a range scan
 * of the backing by start. After the runner has written a commit's changes to the backing it calls `saved()`,
 * which lets clean windows be evicted. Without a backing every window stays in memory.
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
  /** Spilled: keys drained by changes() whose state the backing does not have yet (until saved()). */
  private readonly unsaved = new Set<string>();
  /** Spilled: windows closed here whose state the backing still has (until saved()). */
  private readonly gone = new Set<string>();
  /** Spilled: live windows, in the cache or only in the backing. */
  private live = 0;
  /** Windows read from the backing (cache misses). */
  misses = 0;

  constructor(
    readonly spec: WindowSpec,
    private readonly agg: Aggregation<A, V>,
    private readonly backing?: StateReader,
    private readonly cacheKeys = 50_000,
  ) {
    if (backing && spec.kind === 'sliding') throw new TypeError('sliding windows are kept in memory; they have no backing');
    if (backing) {
      this.live = backing.count();
      const first = backing.first();
      if (first) this.minEnd = parseWindowKey(first).start + spec.sizeMs;
    }
  }

  /** The window of `key`: cached, or read from the backing (and cached). */
  private lookup(key: string): OpenWindow<A> | undefined {
    const cached = this.open.get(key);
    if (cached || !this.backing || this.gone.has(key)) return cached;
    const bytes = this.backing.get(key);
    if (!bytes) return undefined;
    this.misses++;
    const w = this.decodeWindow(key, bytes);
    this.open.set(key, w);
    return w;
  }

  private decodeWindow(key: string, bytes: Uint8Array): OpenWindow<A> {
    const { group, start } = parseWindowKey(key);
    return { group, start, end: start + this.spec.sizeMs, acc: this.agg.read(protobuf.Reader.create(bytes)) };
  }

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
      const key = windowKey(group, w.start);
      let entry = this.lookup(key);
      if (!entry) {
        this.open.set(key, (entry = { group, start: w.start, end: w.end, acc: this.agg.init() }));
        this.live++;
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
      const entry = this.lookup(windowKey(group, w.start));
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
        this.forget(key);
      }
      if (this.backing) {
        // The windows only on disk, in start order (so in end order): up to the first that is still open.
        for (const [key, bytes] of this.backing.range()) {
          if (this.gone.has(key) || this.open.has(key)) continue;
          const end = parseWindowKey(key).start + this.spec.sizeMs;
          if (!isClosed(this.spec, end, streamTime)) {
            if (end < minEnd) minEnd = end;
            break;
          }
          const w = this.decodeWindow(key, bytes);
          this.misses++;
          out.push(this.result(w.group, w.start, w.end, w.acc));
          this.forget(key);
        }
      }
    }
    this.minEnd = minEnd;
    return out.sort((a, b) => a.end - b.end || a.start - b.start || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  /** A window became final: gone from memory, a tombstone in the next changes() (and from the backing after it). */
  private forget(key: string): void {
    this.open.delete(key);
    this.dirty.add(key);
    this.live--;
    if (this.backing) this.gone.add(key);
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
    if (this.backing) for (const key of this.dirty) this.unsaved.add(key);
    return drainChanges(this.dirty, (key) => this.encode(key));
  }

  /**
   * Spilled: everything the last changes() returned is now in the backing — closed windows are gone from it, and
   * windows not changed since may leave the cache (the oldest first) down to `cacheKeys`.
   */
  saved(): void {
    if (!this.backing) return;
    for (const key of this.unsaved) if (!this.dirty.has(key)) this.gone.delete(key);
    this.unsaved.clear();
    let excess = this.open.size - this.cacheKeys;
    if (excess <= 0) return;
    for (const key of this.open.keys()) {
      if (excess <= 0) break;
      if (this.dirty.has(key)) continue;
      this.open.delete(key);
      excess--;
    }
  }

  /** Every live key with its state (a full snapshot). */
  entries(): Array<[string, Uint8Array]> {
    const keys = this.spec.kind === 'sliding' ? new Set([...this.events.keys(), ...this.points.keys()]) : this.open.keys();
    const out = [...keys].map((k): [string, Uint8Array] => [k, this.encode(k)!]);
    if (this.backing) for (const [k, v] of this.backing.range()) if (!this.open.has(k) && !this.gone.has(k)) out.push([k, v]);
    return out;
  }

  /** Restores one key from its changelog state. */
  load(key: string, bytes: Uint8Array): void {
    if (this.backing) throw new TypeError('a spilled window store reads its state from its backing');
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
    const { group, start } = parseWindowKey(key);
    const end = start + this.spec.sizeMs;
    this.open.set(key, { group, start, end, acc: this.agg.read(r) });
    this.live++;
    if (end < this.minEnd) this.minEnd = end;
  }

  /** Windows still open (sliding: evaluation points still open). */
  get openWindows(): number {
    if (this.spec.kind !== 'sliding') return this.live;
    let n = 0;
    for (const pts of this.points.values()) n += pts.length;
    return n;
  }

  /** Live state keys. */
  get size(): number {
    return this.spec.kind === 'sliding' ? new Set([...this.events.keys(), ...this.points.keys()]).size : this.live;
  }

  /** Windows held in memory (spilled: the cache). */
  get cached(): number {
    return this.spec.kind === 'sliding' ? this.size : this.open.size;
  }
}
