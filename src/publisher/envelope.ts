/**
 * The per-event parts of the record envelope, made cheaply: the UUIDv7 event id and the ISO-8601 occurred-at.
 * Both are written exactly as before (same text, same layout; see docs/publisher.md), only with less work per event.
 */
import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Largest epoch millisecond whose ISO-8601 form has a 4-digit year (9999-12-31T23:59:59.999Z). */
const MAX_FOUR_DIGIT_YEAR_MS = 253402300799999;

/**
 * `new Date(ms).toISOString()` with the `YYYY-MM-DDTHH:MM:SS.` part cached per second: events published or stamped
 * within the same second differ only in the milliseconds.
 */
export class IsoTime {
  private second = Number.NaN;
  private prefix = '';

  format(ms: number): string {
    if (!(ms >= 0 && ms <= MAX_FOUR_DIGIT_YEAR_MS) || !Number.isInteger(ms)) return new Date(ms).toISOString();
    const frac = ms % 1000;
    const second = ms - frac;
    if (second !== this.second) {
      this.prefix = new Date(second).toISOString().slice(0, 20);
      this.second = second;
    }
    return this.prefix + (frac < 10 ? `00${frac}Z` : frac < 100 ? `0${frac}Z` : `${frac}Z`);
  }
}

const POOL_BYTES = 4096;

/**
 * UUIDv7 (RFC 9562) strings, laid out as the `uuid` package's v7() lays them out: 48-bit Unix milliseconds, then a
 * 32-bit counter seeded at random on each new millisecond and incremented within it (so ids from one generator
 * sort in generation order; when it wraps, the timestamp moves on by one), then 42 random bits. Random bytes come
 * from a 4 KiB pool refilled with crypto.randomFillSync, and the text of the timestamp part is kept per millisecond.
 */
export class UuidV7 {
  private msecs = -Infinity;
  private seq = 0;
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private at = POOL_BYTES;
  private prefixMs = Number.NaN;
  private prefix = '';

  next(now = Date.now()): string {
    if (this.at > POOL_BYTES - 10) {
      randomFillSync(this.pool);
      this.at = 0;
    }
    const r = this.pool;
    let i = this.at;
    if (now > this.msecs) {
      this.seq = ((r[i]! << 23) | (r[i + 1]! << 16) | (r[i + 2]! << 8) | r[i + 3]!) | 0;
      this.msecs = now;
      i += 4;
    } else {
      this.seq = (this.seq + 1) | 0;
      if (this.seq === 0) this.msecs++;
    }
    const text = format(this.prefixFor(this.msecs), this.seq, r, i);
    this.at = i + 6;
    return text;
  }

  private prefixFor(msecs: number): string {
    if (msecs !== this.prefixMs) {
      this.prefixMs = msecs;
      this.prefix = timePrefix(msecs);
    }
    return this.prefix;
  }
}

/** `xxxxxxxx-xxxx-` for a 48-bit millisecond timestamp. */
function timePrefix(msecs: number): string {
  return (
    HEX[(msecs / 0x10000000000) & 0xff]! + HEX[(msecs / 0x100000000) & 0xff]! + HEX[(msecs / 0x1000000) & 0xff]! + HEX[(msecs / 0x10000) & 0xff]! +
    '-' + HEX[(msecs / 0x100) & 0xff]! + HEX[msecs & 0xff]! + '-'
  );
}

/** The rest of the id after the time prefix: version, counter, variant, and 6 random bytes from `r[i..i+5]` (the low 2 bits of the first one). */
function format(prefix: string, seq: number, r: Uint8Array, i: number): string {
  return (
    prefix +
    HEX[0x70 | ((seq >>> 28) & 0x0f)]! + HEX[(seq >>> 20) & 0xff]! + '-' +
    HEX[0x80 | ((seq >>> 14) & 0x3f)]! + HEX[(seq >>> 6) & 0xff]! + '-' +
    HEX[((seq << 2) & 0xff) | (r[i]! & 0x03)]! + HEX[r[i + 1]!]! + HEX[r[i + 2]!]! + HEX[r[i + 3]!]! + HEX[r[i + 4]!]! + HEX[r[i + 5]!]!
  );
}

/**
 * The id for given parts, for tests: the same text the `uuid` package's `v7({ msecs, seq, random })` makes when
 * `random[10..15]` are `random6`.
 */
export function uuidV7Of(msecs: number, seq: number, random6: Uint8Array): string {
  return format(timePrefix(msecs), seq | 0, random6, 0);
}
