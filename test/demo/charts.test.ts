import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { niceTicks, timeChart, timeTicks } from '../../src/demo/charts.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 11, 4, 11, 0);

describe('demo charts', () => {
  it('niceTicks: whole steps of 1, 2 or 5 × 10^k from 0 to the first tick at or above the maximum', () => {
    assert.deepEqual(niceTicks(3), [0, 1, 2, 3]);
    assert.deepEqual(niceTicks(13), [0, 5, 10, 15]);
    assert.deepEqual(niceTicks(14.4), [0, 5, 10, 15]);
    assert.deepEqual(niceTicks(100), [0, 20, 40, 60, 80, 100]);
    assert.deepEqual(niceTicks(0), [0, 1]);
    assert.deepEqual(niceTicks(0.3), [0, 1], 'counts are whole: no 0.25 steps');
    assert.deepEqual(niceTicks(37), [0, 10, 20, 30, 40]);
  });

  it('timeTicks: whole minutes on a 1, 2, 5, 10, 15, 30 or 60-minute grid, at most 10', () => {
    assert.deepEqual(timeTicks({ x0: T0, x1: T0 + 6 * MIN }), [0, 1, 2, 3, 4, 5, 6].map((m) => T0 + m * MIN));
    const t = timeTicks({ x0: T0 + 30_000, x1: T0 + 41 * MIN });
    assert.deepEqual(t, [5, 10, 15, 20, 25, 30, 35, 40].map((m) => T0 + m * MIN));
  });

  it('an SVG with title, desc, legend, threshold and markers; windowed values where they are given', () => {
    const html = timeChart({
      id: 'c', title: 'A <chart>', desc: 'What it shows', yLabel: 'n', axis: { x0: T0, x1: T0 + 10 * MIN }, yMax: 13,
      series: [{ kind: 'line', name: 'AE ANDROID', cls: 's-inc', points: [[T0 + 5 * MIN, 4], [T0 + 10 * MIN, NaN]], dots: true, step: true }],
      threshold: { value: 12, name: 'threshold ≥ 12' },
      incident: { from: T0 + 2 * MIN, to: T0 + 6 * MIN, name: 'incident' },
      markers: [{ at: T0 + 4 * MIN, state: 'firing', name: 'alert fired', value: 12 }, { at: T0 + 20 * MIN, state: 'resolved', name: 'off the axis' }],
    });
    assert.match(html, /<svg [^>]*role="img" aria-labelledby="c-title c-desc"[^>]*><title id="c-title">A &lt;chart&gt;<\/title><desc id="c-desc">What it shows<\/desc>/);
    assert.match(html, /<ul class="legend"[^>]*>.*AE ANDROID.*threshold ≥ 12.*incident.*alert fired 11:04:00 UTC/);
    assert.match(html, /<line class="threshold" data-value="12"/);
    assert.match(html, /<g class="marker marker-firing" data-at="2026-12-04T11:04:00.000Z">/);
    assert.doesNotMatch(html, /marker-resolved/, 'a marker outside the axis is not drawn');
    assert.deepEqual([...html.matchAll(/class="ax ytick"[^>]*>([^<]*)</g)].map((m) => m[1]), ['0', '5', '10', '15']);
    assert.match(html, /<title>AE ANDROID, 11:05: 4<\/title>/, 'the dot sits at the time given');
  });
});
