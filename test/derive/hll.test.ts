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

  it('serialises and merges, sparse and dense', () => {
    const a = new HyperLogLog(2048);
    const b = new HyperLogLog(2048);
    for (let i = 0; i < 3000; i++) a.add(`u${i}`);
    for (let i = 2000; i < 6000; i++) b.add(`u${i}`);
    assert.equal(a.isSparse, false);
    const copy = HyperLogLog.fromBytes(a.toBytes());
    assert.equal(copy.estimate(), a.estimate());
    copy.merge(b);
    assert.ok(Math.abs(copy.estimate() - 6000) / 6000 <= 3 * copy.standardError);
    // A sparse sketch merged into a dense one, and the other way round.
    const small = new HyperLogLog(2048);
    for (let i = 5990; i < 6010; i++) small.add(`u${i}`);
    const s2 = HyperLogLog.fromBytes(small.toBytes());
    assert.equal(s2.isSparse, true);
    assert.equal(s2.estimate(), 20);
    s2.merge(copy);
    assert.equal(s2.isSparse, false);
    assert.ok(Math.abs(s2.estimate() - 6010) / 6010 <= 3 * s2.standardError);
    assert.throws(() => new HyperLogLog(1000), /power of two/);
    assert.throws(() => copy.merge(new HyperLogLog(1024)), /different sizes/);
    assert.throws(() => HyperLogLog.fromBytes(Uint8Array.of(7, 1)), /not a HyperLogLog state/);
  });

  it('is sparse (exact, ~4 bytes a value) until the hashes would outgrow the registers, then dense', () => {
    const h = new HyperLogLog(4096);
    for (let i = 0; i < 10; i++) h.add(`user-${i}`);
    h.add('user-3');
    assert.equal(h.isSparse, true);
    assert.equal(h.estimate(), 10);
    assert.ok(h.toBytes().length <= 3 + 10 * 5, `10 users serialise to ${h.toBytes().length} bytes`);
    // The sparse form and the registers it stands for give the same dense sketch.
    assert.deepEqual(new HyperLogLog(4096, h.registers).registers, h.registers);
    for (let i = 10; i < 1024; i++) h.add(`user-${i}`);
    assert.equal(h.isSparse, true, 'm/4 = 1,024 hashes still fit');
    assert.equal(h.estimate(), 1024);
    h.add('user-1024');
    assert.equal(h.isSparse, false, 'the 1,025th turns it dense');
    assert.equal(h.toBytes().length, 2 + 4096);
    assert.ok(Math.abs(h.estimate() - 1025) / 1025 <= 3 * h.standardError);
    // 10,000 groups with ~10 users each: kilobytes per thousand groups, not megabytes.
    let bytes = 0;
    for (let g = 0; g < 10_000; g++) {
      const s = new HyperLogLog(4096);
      for (let u = 0; u < 10; u++) s.add(`g${g}-u${u}`);
      bytes += s.toBytes().length;
    }
    assert.ok(bytes < 10_000 * 60, `10,000 sparse sketches of 10 users: ${bytes} bytes`);
  });
});
