/**
 * Window semantics against an independent computation: a seeded stream of events with out-of-order, late and
 * idle stretches is fed to WindowStore; every emitted value must equal plain arithmetic over the same events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countAgg, sumAgg } from '../../src/derive/aggregates.js';
import { WindowStore, type WindowResult } from '../../src/derive/store.js';
import { hopping, parseDuration, sliding, StreamClock, tumbling, type WindowSpec } from '../../src/derive/windows.js';
import { rng } from '../../src/demo/simulate.js';

interface Ev {
  group: string;
  t: number;
  v: number;
}

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/** Events roughly in time order, some up to 3 minutes out of order, a few 20+ minutes late. */
function workload(seed: number, n: number): Ev[] {
  const r = rng(seed);
  const out: Ev[] = [];
  let clock = T0;
  for (let i = 0; i < n; i++) {
    clock += Math.floor(r() * 20_000);
    let t = clock;
    const x = r();
    if (x < 0.15) t -= Math.floor(r() * 3 * MIN);
    else if (x < 0.18) t -= 20 * MIN + Math.floor(r() * 10 * MIN);
    out.push({ group: ['talabat', 'careem', 'deliveroo'][Math.floor(r() * 3)]!, t, v: 1 + Math.floor(r() * 50) });
  }
  return out;
}

/** Feeds events in arrival order; stream time = max event time so far. Returns emitted results and what was accepted. */
function run(spec: WindowSpec, evs: Ev[], agg: 'count' | 'sum') {
  const store = new WindowStore(spec, agg === 'count' ? countAgg : sumAgg);
  const clock = new StreamClock(0);
  const emitted: WindowResult[] = [];
  const accepted: Ev[] = [];
  let wall = 0;
  for (const e of evs) {
    clock.observe(e.t, ++wall);
    const st = clock.now(wall);
    if (store.add(e.group, e.t, e.v, st) === 'added') accepted.push(e);
    emitted.push(...store.closeReady(st));
  }
  emitted.push(...store.closeReady(Number.POSITIVE_INFINITY)); // end of input: flush everything
  return { emitted, accepted, late: store.lateDropped };
}

/** Independent: which events are late, by the definition in words (all their windows final on arrival). */
function independentLate(evs: Ev[], windowEndsOf: (t: number) => number[], graceMs: number): Set<Ev> {
  const late = new Set<Ev>();
  let max = Number.NEGATIVE_INFINITY;
  for (const e of evs) {
    max = Math.max(max, e.t);
    if (windowEndsOf(e.t).every((end) => max >= end + graceMs)) late.add(e);
  }
  return late;
}

describe('derive windows: emitted values equal an independent computation', () => {
  for (const agg of ['count', 'sum'] as const) {
    it(`tumbling 5m, grace 1m, ${agg}`, () => {
      const evs = workload(42, 3000);
      const spec = tumbling('5m', { grace: '1m' });
      const { emitted, late } = run(spec, evs, agg);
      const size = 5 * MIN;
      // Late, per window, computed by hand: a window [s, s+5m) gets everything not late whose t is inside,
      // except events that arrived after the window was final (stream time ≥ s + 5m + 1m).
      const lateSet = independentLate(evs, (t) => [Math.floor(t / size) * size + size], MIN);
      const expected = new Map<string, number>();
      for (const e of evs) {
        if (lateSet.has(e)) continue;
        const key = `${e.group}|${Math.floor(e.t / size) * size}`;
        expected.set(key, (expected.get(key) ?? 0) + (agg === 'count' ? 1 : e.v));
      }
      assert.equal(late, lateSet.size);
      assert.ok(late > 0, 'the workload has late events');
      const got = new Map(emitted.map((w) => [`${w.group}|${w.start}`, w.value]));
      assert.equal(emitted.length, got.size, 'each window is emitted once');
      assert.deepEqual(got, expected);
      for (const w of emitted) assert.equal(w.end - w.start, size);
    });
  }

  it('hopping 10m advance 5m, grace 2m, count: each window counts exactly the non-late events inside it', () => {
    const evs = workload(7, 2500);
    const spec = hopping('10m', '5m', { grace: '2m' });
    const { emitted } = run(spec, evs, 'count');
    // An event in two windows can be late for the older one and on time for the newer: check per window.
    const expected = new Map<string, number>();
    let max = Number.NEGATIVE_INFINITY;
    for (const e of evs) {
      max = Math.max(max, e.t);
      for (let s = Math.floor(e.t / (5 * MIN)) * 5 * MIN; s > e.t - 10 * MIN; s -= 5 * MIN) {
        if (max >= s + 10 * MIN + 2 * MIN) continue; // that window was already final
        expected.set(`${e.group}|${s}`, (expected.get(`${e.group}|${s}`) ?? 0) + 1);
      }
    }
    const got = new Map(emitted.map((w) => [`${w.group}|${w.start}`, w.value]));
    assert.equal(emitted.length, got.size);
    assert.deepEqual(got, expected);
  });

  it('sliding 10m, grace 30s, count: at each event time and each expiry time T, the accepted events of its group in (T − 10m, T]', () => {
    // Times on a 30 s grid, so events fall exactly on window boundaries (t − 10m is excluded, t included).
    const evs = workload(99, 1500).map((e) => ({ ...e, t: Math.round(e.t / 30_000) * 30_000 }));
    const spec = sliding('10m', { grace: '30s' });
    const { emitted, accepted } = run(spec, evs, 'count');
    assert.equal(emitted.length, 2 * accepted.length, 'two evaluations per accepted event: when it arrives and when it leaves');
    const points = accepted.flatMap((e) => [{ group: e.group, T: e.t }, { group: e.group, T: e.t + 10 * MIN }]);
    const expected = points
      .map(({ group, T }) => ({ group, end: T, value: accepted.filter((x) => x.group === group && x.t > T - 10 * MIN && x.t <= T).length }))
      .sort((a, b) => a.end - b.end || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0) || a.value - b.value);
    const got = emitted.map((w) => ({ group: w.group, end: w.end, value: w.value })).sort((a, b) => a.end - b.end || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0) || a.value - b.value);
    // Events at the same time in one group give equal windows; compare as multisets.
    assert.deepEqual(got, expected);
    assert.ok(got.some((w) => w.value >= 3), 'some windows reach the alert threshold of the Kitopi rule');
    assert.ok(got.some((w) => w.value === 0), 'windows evaluated at expiry can fall to zero');
  });

  it('sliding without grace: in-order events are not late, and an event at exactly T still counts for (T − size, T]', () => {
    const store = new WindowStore(sliding('10m'), countAgg);
    const clock = new StreamClock(0);
    const out: WindowResult[] = [];
    let wall = 0;
    for (const t of [0, 2 * MIN, 5 * MIN, 5 * MIN]) {
      clock.observe(T0 + t, ++wall);
      assert.equal(store.add('talabat', T0 + t, 1, clock.now(wall)), 'added');
      out.push(...store.closeReady(clock.now(wall)));
    }
    out.push(...store.closeReady(Number.POSITIVE_INFINITY));
    const at = (T: number) => out.filter((w) => w.end === T0 + T).map((w) => w.value);
    assert.deepEqual(at(2 * MIN), [2]);
    assert.deepEqual(at(5 * MIN), [4, 4], 'both events at 5m see each other');
    assert.deepEqual(at(10 * MIN), [3], 'the event at 0 has left');
    assert.equal(store.lateDropped, 0);
  });

  it('windows close when traffic stops: stream time advances with the wall clock after idleMs', () => {
    const store = new WindowStore(tumbling('5m', { grace: '30s' }), countAgg);
    const clock = new StreamClock(60_000);
    const wall0 = 1_000_000;
    clock.observe(T0 + 1000, wall0);
    store.add('careem', T0 + 1000, 1, clock.now(wall0));
    assert.deepEqual(store.closeReady(clock.now(wall0 + 30_000)), [], 'not idle yet: nothing closes');
    assert.equal(clock.now(wall0 + 59_999), T0 + 1000);
    // Idle for 6 minutes of wall time: stream time = last event + 6 min ≥ window end + grace.
    const st = clock.now(wall0 + 6 * MIN);
    assert.equal(st, T0 + 1000 + 6 * MIN);
    assert.deepEqual(store.closeReady(st), [{ group: 'careem', start: T0, end: T0 + 5 * MIN, value: 1 }]);
    // The idle advance is kept when the next event is older: stream time never goes back.
    clock.observe(T0 + 2000, wall0 + 6 * MIN);
    assert.equal(clock.now(wall0 + 6 * MIN), T0 + 1000 + 6 * MIN);
    assert.equal(store.add('careem', T0 + 2000, 1, clock.now(wall0 + 6 * MIN)), 'late');
  });

  it('durations and window options are validated with clear messages', () => {
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.throws(() => parseDuration('5 minutes', 'window size'), /window size "5 minutes" is not a duration/);
    assert.throws(() => tumbling(0), /size must be > 0/);
    assert.throws(() => hopping('5m', '10m'), /advance \(600000 ms\) must not exceed its size/);
  });
});
