import protobuf from 'protobufjs';
import type { Aggregation } from './aggregates.js';
import { drainChanges, type StateEntry } from './state.js';

/** An event waiting for its follower: its time, its group and the value it contributes. */
export interface Waiting {
  t: number;
  g: string;
  v: unknown;
}

/**
 * The windowed stream-stream absence join of one metric in one partition (`notFollowedBy`): an event is matched
 * by a follower with the same key at t ≤ t_f ≤ t + within; unmatched once its `within` plus grace has passed.
 * State per join key: `l<key>` the events still waiting, `r<key>` the followers seen recently.
 */
export class AbsenceJoin {
  private readonly left = new Map<string, Waiting[]>();
  private readonly right = new Map<string, number[]>();
  private readonly dirty = new Set<string>();

  constructor(
    private readonly withinMs: number,
    private readonly graceMs: number,
    private readonly agg: Aggregation<unknown, unknown>,
  ) {}

  /** A waiting event (side L); returns false when it is already late. */
  addLeft(k: string, w: Waiting, streamTime: number): boolean {
    if (w.t + this.withinMs + this.graceMs < streamTime) return false;
    if ((this.right.get(k) ?? []).some((tf) => tf >= w.t && tf <= w.t + this.withinMs)) return true;
    let list = this.left.get(k);
    if (!list) this.left.set(k, (list = []));
    list.push(w);
    this.dirty.add(`l${k}`);
    return true;
  }

  /** A follower (side R): matches the events it follows, and is kept while an earlier event may still arrive. */
  addRight(k: string, t: number, streamTime: number): void {
    const waiting = this.left.get(k);
    if (waiting) {
      const still = waiting.filter((l) => !(t >= l.t && t <= l.t + this.withinMs));
      if (still.length !== waiting.length) {
        this.dirty.add(`l${k}`);
        if (still.length === 0) this.left.delete(k);
        else this.left.set(k, still);
      }
    }
    if (t >= streamTime - this.graceMs - this.withinMs) {
      let list = this.right.get(k);
      if (!list) this.right.set(k, (list = []));
      list.push(t);
      this.dirty.add(`r${k}`);
    }
  }

  /** Removes and returns the events whose `within` (plus grace) has passed unmatched. */
  close(streamTime: number): Waiting[] {
    const out: Waiting[] = [];
    for (const [k, list] of this.left) {
      const still = [];
      for (const l of list) {
        if (streamTime > l.t + this.withinMs + this.graceMs) out.push(l);
        else still.push(l);
      }
      if (still.length === list.length) continue;
      this.dirty.add(`l${k}`);
      if (still.length === 0) this.left.delete(k);
      else this.left.set(k, still);
    }
    // A follower at t_f can only match events at ≥ t_f − within, and those are late once stream time passes
    // t_f − within + within + grace.
    for (const [k, times] of this.right) {
      const kept = times.filter((tf) => tf + this.graceMs >= streamTime);
      if (kept.length === times.length) continue;
      this.dirty.add(`r${k}`);
      if (kept.length === 0) this.right.delete(k);
      else this.right.set(k, kept);
    }
    return out;
  }

  private encode(key: string): Uint8Array | null {
    const k = key.slice(1);
    const w = protobuf.Writer.create();
    if (key[0] === 'l') {
      const list = this.left.get(k);
      if (!list) return null;
      w.uint32(list.length);
      for (const l of list) {
        w.double(l.t).string(l.g);
        this.agg.writeValue(l.v, w);
      }
    } else {
      const times = this.right.get(k);
      if (!times) return null;
      w.uint32(times.length);
      for (const t of times) w.double(t);
    }
    return w.finish();
  }

  changes(): StateEntry[] {
    return drainChanges(this.dirty, (key) => this.encode(key));
  }

  entries(): Array<[string, Uint8Array]> {
    return [...[...this.left.keys()].map((k) => `l${k}`), ...[...this.right.keys()].map((k) => `r${k}`)].map((key) => [key, this.encode(key)!]);
  }

  load(key: string, bytes: Uint8Array): void {
    const r = protobuf.Reader.create(bytes);
    const k = key.slice(1);
    const n = r.uint32();
    if (key[0] === 'l') {
      const list: Waiting[] = [];
      for (let i = 0; i < n; i++) list.push({ t: r.double(), g: r.string(), v: this.agg.readValue(r) });
      this.left.set(k, list);
    } else {
      const times: number[] = [];
      for (let i = 0; i < n; i++) times.push(r.double());
      this.right.set(k, times);
    }
  }

  get size(): number {
    return this.left.size + this.right.size;
  }
}
