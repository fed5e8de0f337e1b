import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HyperLogLog, murmur3 } from '../../src/derive/hll.js';

describe('HyperLogLog', () => {
  it('murmur3 x86_32 matches the reference vectors', () => {
    const b = (s: string) => Buffer.from(s, 'utf8');
    assert.equal(murmur3(b('')), 0);
    assert.equal(murmur3(b(''), 1), 0x514e28b7);
    assert.equal(murmur3(b('hello')), 0x248bfa47);
    assert.equal(murmur3(b('The quick brown fox jumps over the lazy dog')), 0x2e4ff723);
  });

  it('estimates within 3 standard errors from 10 to 200,000 distinct values', () => {
    for (const m of [1024, 4096]) {
      for (const n of [10, 100, 313, 1000, 5000, 20_000, 200_000]) {
        const h = new HyperLogLog(m);
        for (let i = 0; i < n; i++) {
          h.add(`user-${i}`);
          h.add(`user-${i}`); // duplicates do not count
        }
        const err = Math.abs(h.estimate() - n) / n;
        assert.ok(err <= 3 * h.standardError + 0.001, `m=${m} n=${n}: estimate ${h.estimate().toFixed(1)} (error ${(err * 100).toFixed(2)}%, 3σ ${(3 * h.standardError * 100).toFixed(2)}%)`);
      }
    }
  });

  it('serialises and merges', () => {
    const a = new HyperLogLog(2048);
    const b = new HyperLogLog(2048);
    for (let i = 0; i < 3000; i++) a.add(`u${i}`);
    for (let i = 2000; i < 6000; i++) b.add(`u${i}`);
    const copy = HyperLogLog.fromBytes(a.registers);
    assert.equal(copy.estimate(), a.estimate());
    copy.merge(b);
    assert.ok(Math.abs(copy.estimate() - 6000) / 6000 <= 3 * copy.standardError);
    assert.throws(() => new HyperLogLog(1000), /power of two/);
    assert.throws(() => copy.merge(new HyperLogLog(1024)), /different sizes/);
  });
});
