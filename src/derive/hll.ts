import protobuf from 'protobufjs';

/**
 * HyperLogLog (Flajolet et al. 2007) over a 32-bit murmur3 hash of the value's UTF-8 bytes, with a sparse form
 * in the spirit of HLL++ (Heule et al. 2013): while a sketch has seen few distinct values it keeps their sorted
 * 32-bit hashes (4 bytes each, exact up to hash collisions), and it turns into m one-byte registers only once
 * that list would be larger than the registers (m/4 hashes). A group with 10 distinct users costs ~40 bytes of
 * state instead of m, which is what makes distinct counts over tens of thousands of groups affordable.
 *
 * Error: while sparse the count is exact except for 32-bit hash collisions (expected n²/2³³ of them: 0.0001
 * at n = 1,024); once dense, the relative standard error is 1.04/√m, with the usual linear-counting correction
 * for small ranges.
 *
 * Written here rather than taken from npm: bloom-filters' HyperLogLog (3.0.4) stores the 0-based position of
 * the leading 1-bit instead of its rank, so linear counting sees about half of the used registers as empty and
 * small counts come out halved (313 distinct users estimated as 151 in our test); `hll` (2.0.0) has no way to
 * serialise its state; neither has a sparse form.
 */
export class HyperLogLog {
  readonly m: number;
  private readonly p: number;
  /** Sparse form: sorted distinct hashes in `hashes[0..n)`; null once dense. */
  private hashes: Uint32Array | null;
  private n = 0;
  private dense: Uint8Array | null = null;

  /** `m` registers, a power of two from 16 to 65,536. */
  constructor(m: number, registers?: Uint8Array) {
    const p = Math.log2(m);
    if (!Number.isInteger(p) || p < 4 || p > 16) throw new RangeError(`HyperLogLog register count must be a power of two from 16 to 65536, got ${m}`);
    this.m = m;
    this.p = p;
    this.hashes = new Uint32Array(4);
    if (registers) {
      if (registers.length !== m) throw new RangeError(`HyperLogLog state has ${registers.length} registers, expected ${m}`);
      this.hashes = null;
      this.dense = Uint8Array.from(registers);
    }
  }

  /** Relative standard error of the estimate once dense (while sparse it is exact up to hash collisions). */
  get standardError(): number {
    return 1.04 / Math.sqrt(this.m);
  }

  get isSparse(): boolean {
    return this.hashes !== null;
  }

  /** Bytes of state held (hashes or registers), for sizing. */
  get stateBytes(): number {
    return this.hashes ? this.n * 4 : this.m;
  }

  /** The dense registers (computed from the hashes while sparse). */
  get registers(): Uint8Array {
    if (this.dense) return this.dense;
    const r = new Uint8Array(this.m);
    for (let i = 0; i < this.n; i++) this.setRegister(r, this.hashes![i]!);
    return r;
  }

  add(value: string): void {
    this.addHash(murmur3(Buffer.from(value, 'utf8')));
  }

  addHash(h: number): void {
    if (this.dense) return this.setRegister(this.dense, h);
    const hs = this.hashes!;
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hs[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.n && hs[lo] === h) return;
    if (this.n + 1 > this.m / 4) {
      this.densify();
      return this.setRegister(this.dense!, h);
    }
    if (this.n === hs.length) {
      const grown = new Uint32Array(Math.min(hs.length * 2, this.m / 4));
      grown.set(hs.subarray(0, lo));
      grown.set(hs.subarray(lo, this.n), lo + 1);
      this.hashes = grown;
    } else hs.copyWithin(lo + 1, lo, this.n);
    this.hashes![lo] = h;
    this.n++;
  }

  private setRegister(r: Uint8Array, h: number): void {
    const idx = h >>> (32 - this.p);
    const rest = (h << this.p) >>> 0;
    // Rank: position of the leftmost 1-bit in the remaining 32 − p bits, counted from 1.
    const rank = rest === 0 ? 32 - this.p + 1 : Math.clz32(rest) + 1;
    if (rank > r[idx]!) r[idx] = rank;
  }

  private densify(): void {
    this.dense = this.registers;
    this.hashes = null;
    this.n = 0;
  }

  merge(other: HyperLogLog): void {
    if (other.m !== this.m) throw new RangeError('cannot merge HyperLogLogs of different sizes');
    if (other.hashes) {
      for (let i = 0; i < other.n; i++) this.addHash(other.hashes[i]!);
      return;
    }
    if (!this.dense) this.densify();
    const o = other.dense!;
    const r = this.dense!;
    for (let i = 0; i < this.m; i++) if (o[i]! > r[i]!) r[i] = o[i]!;
  }

  estimate(): number {
    if (this.hashes) return this.n;
    const m = this.m;
    let sum = 0;
    let zeros = 0;
    for (const r of this.dense!) {
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const alpha = m === 16 ? 0.673 : m === 32 ? 0.697 : m === 64 ? 0.709 : 0.7213 / (1 + 1.079 / m);
    const raw = (alpha * m * m) / sum;
    if (raw <= 2.5 * m && zeros > 0) return m * Math.log(m / zeros);
    const two32 = 2 ** 32;
    if (raw > two32 / 30) return -two32 * Math.log(1 - raw / two32);
    return raw;
  }

  /**
   * Compact bytes for the changelog: `1, p, n, delta-varints of the sorted hashes` while sparse (≈ 2–4 bytes a
   * value), `2, p, registers` once dense.
   */
  toBytes(): Uint8Array {
    const w = protobuf.Writer.create();
    if (this.hashes) {
      w.uint32(1).uint32(this.p).uint32(this.n);
      let prev = 0;
      for (let i = 0; i < this.n; i++) {
        w.uint32(this.hashes[i]! - prev);
        prev = this.hashes[i]!;
      }
      return w.finish();
    }
    const out = new Uint8Array(2 + this.m);
    out[0] = 2;
    out[1] = this.p;
    out.set(this.dense!, 2);
    return out;
  }

  static fromBytes(bytes: Uint8Array): HyperLogLog {
    const kind = bytes[0];
    if (kind === 2) return new HyperLogLog(2 ** bytes[1]!, bytes.subarray(2));
    if (kind !== 1) throw new RangeError(`not a HyperLogLog state (kind byte ${kind})`);
    const r = protobuf.Reader.create(bytes);
    r.uint32();
    const h = new HyperLogLog(2 ** r.uint32());
    const n = r.uint32();
    if (n > h.m / 4) throw new RangeError(`HyperLogLog sparse state holds ${n} hashes, over the limit ${h.m / 4}`);
    const hashes = new Uint32Array(Math.max(4, n));
    let prev = 0;
    for (let i = 0; i < n; i++) hashes[i] = prev = (prev + r.uint32()) >>> 0;
    h.hashes = hashes;
    h.n = n;
    return h;
  }
}

/** MurmurHash3 x86 32-bit, seed 0. */
export function murmur3(data: Uint8Array, seed = 0): number {
  let h = seed >>> 0;
  const n = data.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (n & 3) {
    case 3:
      k ^= data[blocks + 2]! << 16;
    // falls through
    case 2:
      k ^= data[blocks + 1]! << 8;
    // falls through
    case 1:
      k ^= data[blocks]!;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
