/**
 * The loader's wire→JSON-text decoder writes exactly what `JSON.stringify(registry.decode(...))` writes, for
 * randomised records of every field kind, for hand-built wire forms protobufjs also accepts (unpacked repeated,
 * duplicates, unknown fields, unknown enum values), and never succeeds on bytes protobufjs refuses.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { loadSchema } from '../../src/index.js';
import { compileJsonDecoder } from '../../src/schema/json-decode.js';
import { EventRegistry } from '../../src/schema/registry.js';

const PROTO = `syntax = "proto3";
package kinds.v1;
import "google/protobuf/timestamp.proto";
import "multidispatch/options.proto";

enum Colour { COLOUR_UNSPECIFIED = 0; RED = 1; GREEN = 2; NEGATIVE = -3; }

message Inner {
  string label = 1;
  int64 big = 2;
  repeated Inner children = 3;
  google.protobuf.Timestamp at = 4;
}

message Empty {}

message Everything {
  option (multidispatch.event) = { topic: "kinds.v1" key_field: "s" };
  double d = 1;
  float f = 2;
  int32 i32 = 3;
  uint32 u32 = 4;
  sint32 s32 = 5;
  fixed32 fx32 = 6;
  sfixed32 sfx32 = 7;
  int64 i64 = 8;
  uint64 u64 = 9;
  sint64 s64 = 10;
  fixed64 fx64 = 11;
  sfixed64 sfx64 = 12;
  bool b = 13;
  string s = 14;
  bytes by = 15;
  Colour colour = 16;
  Inner inner = 17;
  google.protobuf.Timestamp at = 18;
  repeated int64 r_i64 = 19;
  repeated string r_s = 20;
  repeated Colour r_colour = 21;
  repeated Inner r_inner = 22;
  repeated double r_d = 23;
  repeated bytes r_by = 24;
  repeated google.protobuf.Timestamp r_at = 25;
  map<string, string> m_ss = 26;
  map<string, int64> m_si64 = 27;
  map<int32, Colour> m_icol = 28;
  map<bool, bytes> m_bby = 29;
  optional string opt_s = 30;
  optional int64 opt_i64 = 31;
  oneof choice {
    string c_text = 32;
    Inner c_inner = 33;
    sint64 c_num = 34;
  }
  Empty empty = 35;
  repeated sfixed64 r_sfx64 = 36;
  repeated bool r_b = 37;
  uint32 far_field = 1000;
}
`;

/** A small deterministic generator, so a failure can be replayed from its seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}

type R = ReturnType<typeof rng>;

const INT64S = ['0', '1', '-1', '9007199254740991', '-9007199254740991', '9007199254740993', '-9007199254740993', '9223372036854775807', '-9223372036854775808', '4294967296', '-4294967296', '2147483648', '123456789012'];
const UINT64S = ['0', '1', '18446744073709551615', '9007199254740993', '4294967295', '4294967296', '9223372036854775808'];
const STRINGS = ['', 'a', 'plain ascii', 'quote " and backslash \\', 'ctl \u0001\n\t', 'émoji 🍕 ünïcödé', '中文字符', '\u2028\u2029', '</script>', 'x'.repeat(300)];
const DOUBLES = [0, -0, 1.5, -2.25, 1e300, -1e-300, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity, 0.1, 123456789.123];
const INT32S = [0, 1, -1, 2147483647, -2147483648, 300, -300];
const UINT32S = [0, 1, 4294967295, 2147483648, 127, 128, 16384];

function str(r: R): string {
  return r.pick(STRINGS) + (r.chance(0.3) ? String(r.int(1e6)) : '');
}

function bytes(r: R): Uint8Array {
  const n = r.pick([0, 1, 2, 3, 4, 17, 200]);
  return Uint8Array.from({ length: n }, () => r.int(256));
}

function timestamp(r: R) {
  return { seconds: r.pick([0, 1, 1700000000, 1733300000, -86400, 253402300799]), nanos: r.pick([0, 1, 999999999, 500000000, 123000000, 123456789]) };
}

function inner(r: R, depth = 0): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (r.chance(0.7)) o.label = str(r);
  if (r.chance(0.7)) o.big = r.pick(INT64S);
  if (depth < 3 && r.chance(0.4)) o.children = Array.from({ length: r.int(3) }, () => inner(r, depth + 1));
  if (r.chance(0.5)) o.at = timestamp(r);
  return o;
}

function everything(r: R): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const maybe = (name: string, make: () => unknown) => {
    if (r.chance(0.7)) o[name] = make();
  };
  const list = <T>(make: () => T) => Array.from({ length: r.int(5) }, make);
  maybe('d', () => r.pick(DOUBLES));
  maybe('f', () => r.pick(DOUBLES));
  maybe('i32', () => r.pick(INT32S));
  maybe('u32', () => r.pick(UINT32S));
  maybe('s32', () => r.pick(INT32S));
  maybe('fx32', () => r.pick(UINT32S));
  maybe('sfx32', () => r.pick(INT32S));
  maybe('i64', () => r.pick(INT64S));
  maybe('u64', () => r.pick(UINT64S));
  maybe('s64', () => r.pick(INT64S));
  maybe('fx64', () => r.pick(UINT64S));
  maybe('sfx64', () => r.pick(INT64S));
  maybe('b', () => r.chance(0.5));
  maybe('s', () => str(r));
  maybe('by', () => bytes(r));
  maybe('colour', () => r.pick(['RED', 'GREEN', 'NEGATIVE', 'COLOUR_UNSPECIFIED']));
  maybe('inner', () => inner(r));
  maybe('at', () => timestamp(r));
  maybe('rI64', () => list(() => r.pick(INT64S)));
  maybe('rS', () => list(() => str(r)));
  maybe('rColour', () => list(() => r.pick(['RED', 'GREEN', 'NEGATIVE'])));
  maybe('rInner', () => list(() => inner(r)));
  maybe('rD', () => list(() => r.pick(DOUBLES)));
  maybe('rBy', () => list(() => bytes(r)));
  maybe('rAt', () => list(() => timestamp(r)));
  maybe('mSs', () => Object.fromEntries(list(() => [r.pick(['k', '1', '02', 'b', '__proto__', 'ünï', '']), str(r)])));
  maybe('mSi64', () => Object.fromEntries(list(() => [str(r), r.pick(INT64S)])));
  maybe('mIcol', () => Object.fromEntries(list(() => [r.pick(INT32S), r.pick(['RED', 'GREEN', 'COLOUR_UNSPECIFIED'])])));
  maybe('mBby', () => Object.fromEntries(list(() => [r.chance(0.5), bytes(r)])));
  maybe('optS', () => str(r));
  maybe('optI64', () => r.pick(INT64S));
  const choice = r.int(4);
  if (choice === 1) o.cText = str(r);
  if (choice === 2) o.cInner = inner(r);
  if (choice === 3) o.cNum = r.pick(INT64S);
  maybe('empty', () => ({}));
  maybe('rSfx64', () => list(() => r.pick(INT64S)));
  maybe('rB', () => list(() => r.chance(0.5)));
  maybe('farField', () => r.pick(UINT32S));
  return o;
}

async function registryFor(t: { after(fn: () => unknown): unknown }) {
  const dir = await mkdtemp(join(tmpdir(), 'md-json-decode-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'kinds.proto'), PROTO);
  return new EventRegistry(await loadSchema(dir));
}

/** Mine must equal the reference whenever the reference succeeds... and must throw whenever it throws. */
function agree(registry: EventRegistry, type: string, bytes: Uint8Array, where: string, corrupt = false): 'ok' | 'both-threw' | 'mine-threw' {
  const decoder = compileJsonDecoder(registry.lookup(type).type)!;
  let expected: string | undefined;
  let refError: unknown;
  try {
    expected = JSON.stringify(registry.decode(type, bytes));
  } catch (err) {
    refError = err;
  }
  let actual: string | undefined;
  let mineError: unknown;
  try {
    actual = decoder(bytes);
  } catch (err) {
    mineError = err;
  }
  if (refError !== undefined) {
    assert.ok(mineError !== undefined, `${where}: protobufjs refused (${(refError as Error).message}) but the JSON decoder returned ${actual}`);
    return 'both-threw';
  }
  if (mineError !== undefined) return 'mine-threw';
  // Corrupted bytes may hold invalid UTF-8 in a string: Node's decoder writes U+FFFD where protobufjs' writes
  // whatever its arithmetic gives, the one place the two may differ on a record both accept.
  if (corrupt && actual !== expected && actual!.includes('\uFFFD')) return 'ok';
  assert.equal(actual, expected, where);
  return 'ok';
}

describe('compileJsonDecoder', () => {
  it('writes exactly what JSON.stringify(registry.decode()) writes, for 3,000 randomised records of every field kind', async (t) => {
    const registry = await registryFor(t);
    const type = registry.lookup('kinds.v1.Everything').type;
    assert.ok(compileJsonDecoder(type), 'the test type compiles (it is meant to cover what the decoder supports)');
    for (let seed = 1; seed <= 3000; seed++) {
      const r = rng(seed);
      const bytes = type.encode(type.fromObject(everything(r))).finish();
      assert.equal(agree(registry, 'kinds.v1.Everything', bytes, `seed ${seed}`), 'ok', `seed ${seed}: the decoder refused a record protobufjs wrote`);
    }
    // The empty record: every default.
    assert.equal(agree(registry, 'kinds.v1.Everything', new Uint8Array(0), 'empty'), 'ok');
    const empty = JSON.parse(registry.decodeJson('kinds.v1.Everything', new Uint8Array(0)));
    assert.equal(empty.i64, '0');
    assert.equal(empty.colour, 'COLOUR_UNSPECIFIED');
    assert.equal(empty.by, '');
    assert.equal(empty.inner, null);
    assert.deepEqual(empty.rI64, []);
    assert.deepEqual(empty.mSs, {});
    assert.ok(!('optS' in empty) && !('cText' in empty), 'unset optional and oneof members are left out');
  });

  it('agrees on wire forms protobufjs accepts but does not write: unpacked repeated, duplicates, unknown fields and enum values', async (t) => {
    const registry = await registryFor(t);
    const W = protobuf.Writer;
    const cases: Array<[string, Uint8Array]> = [
      // repeated int64 (19) unpacked, then packed, mixed
      ['unpacked + packed int64', W.create().uint32((19 << 3) | 0).int64('-5').uint32((19 << 3) | 2).fork().int64('7').int64('9223372036854775807').ldelim().uint32((19 << 3) | 0).int64('3').finish()],
      // a singular field twice: the last wins
      ['duplicate scalar', W.create().uint32((14 << 3) | 2).string('first').uint32((14 << 3) | 2).string('second').finish()],
      ['duplicate message', W.create().uint32((17 << 3) | 2).fork().uint32((1 << 3) | 2).string('a').ldelim().uint32((17 << 3) | 2).fork().uint32((2 << 3) | 0).int64('5').ldelim().finish()],
      // unknown fields of every wire type, including a group
      ['unknown fields', W.create().uint32((99 << 3) | 0).uint64('18446744073709551615').uint32((98 << 3) | 1).fixed64('1').uint32((97 << 3) | 2).string('skip me').uint32((96 << 3) | 5).fixed32(5).uint32((95 << 3) | 3).uint32((1 << 3) | 0).uint32(1).uint32((95 << 3) | 4).uint32((14 << 3) | 2).string('kept').finish()],
      // enum values the schema does not name (singular, repeated, in a map)
      ['unknown enum values', W.create().uint32((16 << 3) | 0).int32(42).uint32((21 << 3) | 2).fork().int32(1).int32(77).int32(-9).ldelim().uint32((28 << 3) | 2).fork().uint32((1 << 3) | 0).int32(5).uint32((2 << 3) | 0).int32(99).ldelim().finish()],
      // two members of one oneof: both are kept, as protobufjs keeps them
      ['two oneof members', W.create().uint32((34 << 3) | 0).sint64('-4').uint32((32 << 3) | 2).string('t').finish()],
      // a map entry with its key or value left out, a repeated key, and a __proto__ key
      ['map entries', W.create().uint32((26 << 3) | 2).fork().uint32((2 << 3) | 2).string('no key').ldelim().uint32((26 << 3) | 2).fork().uint32((1 << 3) | 2).string('k').ldelim().uint32((26 << 3) | 2).fork().uint32((1 << 3) | 2).string('k').uint32((2 << 3) | 2).string('again').ldelim().uint32((26 << 3) | 2).fork().uint32((1 << 3) | 2).string('__proto__').uint32((2 << 3) | 2).string('p').ldelim().uint32((27 << 3) | 2).fork().uint32((1 << 3) | 2).string('z').ldelim().finish()],
      // a Timestamp with only nanos, with negative seconds, and an empty one
      ['timestamps', W.create().uint32((18 << 3) | 2).fork().uint32((2 << 3) | 0).int32(1500).ldelim().uint32((25 << 3) | 2).fork().uint32((1 << 3) | 0).int64('-1').ldelim().uint32((25 << 3) | 2).fork().ldelim().finish()],
      // int32 negative written as a 10-byte varint; bool from a large varint
      ['long varints', W.create().uint32((3 << 3) | 0).int32(-7).uint32((13 << 3) | 0).uint64('4294967296').uint32((5 << 3) | 0).sint32(-2147483648).finish()],
      ['field number 1000', W.create().uint32((1000 << 3) | 0).uint32(12).finish()],
    ];
    for (const [name, bytes] of cases) assert.equal(agree(registry, 'kinds.v1.Everything', bytes, name), 'ok', `${name}: the decoder refused`);
    // Invalid UTF-8 in a string field: replacement characters, the record still lands.
    const invalid = W.create().uint32((14 << 3) | 2).bytes(Uint8Array.from([0x61, 0xff, 0xc3, 0x62])).finish();
    assert.equal(JSON.parse(registry.decodeJson('kinds.v1.Everything', invalid)).s, 'a\uFFFD\uFFFDb');
    // A field arriving with another wire type than its declared one is refused (protobufjs would read it as its type).
    assert.throws(() => registry.decodeJson('kinds.v1.Everything', W.create().uint32((14 << 3) | 0).uint32(5).finish()), /field s \(14\): wire type 0, expected 2/);
  });

  it('never succeeds where protobufjs fails: every truncation and single-byte corruption of 200 records', async (t) => {
    const registry = await registryFor(t);
    const type = registry.lookup('kinds.v1.Everything').type;
    let refused = 0;
    let checked = 0;
    for (let seed = 5001; seed <= 5200; seed++) {
      const r = rng(seed);
      const bytes = type.encode(type.fromObject(everything(r))).finish();
      for (let cut = 0; cut < bytes.length; cut += 1 + r.int(4)) {
        const outcome = agree(registry, 'kinds.v1.Everything', bytes.subarray(0, cut), `seed ${seed} cut at ${cut}`);
        checked++;
        if (outcome !== 'ok') refused++;
      }
      if (bytes.length > 0) {
        const corrupt = Uint8Array.from(bytes);
        corrupt[r.int(bytes.length)] = r.int(256);
        agree(registry, 'kinds.v1.Everything', corrupt, `seed ${seed} corrupted`, true);
        checked++;
      }
    }
    assert.ok(refused > 0, 'some truncations must be refused (a length or varint cut short)');
    assert.ok(checked > 1000);
  });

  it('decodes the example schema of the repository (orders) like protobufjs, and falls back for what it does not cover', async (t) => {
    const registry = new EventRegistry(await loadSchema(join(process.cwd(), 'proto', 'examples')));
    for (const eventType of registry.eventTypes) {
      const type = registry.lookup(eventType).type;
      const decoder = compileJsonDecoder(type);
      assert.ok(decoder, `${eventType} compiles`);
      const r = rng(eventType.length);
      for (let i = 0; i < 200; i++) {
        const sample: Record<string, unknown> = {};
        for (const f of type.fieldsArray) {
          if (!r.chance(0.8) || f.repeated || f.map) continue;
          const rt = f.resolve().resolvedType;
          if (rt instanceof protobuf.Enum) sample[f.name] = r.pick(Object.keys(rt.values));
          else if (rt instanceof protobuf.Type) sample[f.name] = rt.fullName === '.google.protobuf.Timestamp' ? timestamp(r) : {};
          else if (f.type === 'string') sample[f.name] = str(r);
          else if (f.type === 'bool') sample[f.name] = r.chance(0.5);
          else if (/64/.test(f.type)) sample[f.name] = r.pick(f.type.startsWith('u') || f.type === 'fixed64' ? UINT64S : INT64S);
          else if (f.type === 'double' || f.type === 'float') sample[f.name] = r.pick(DOUBLES);
          else if (f.type === 'bytes') sample[f.name] = bytes(r);
          else sample[f.name] = r.pick(f.type.startsWith('u') || f.type === 'fixed32' ? UINT32S : INT32S);
        }
        const encoded = type.encode(type.fromObject(sample)).finish();
        assert.equal(registry.decodeJson(eventType, encoded), JSON.stringify(registry.decode(eventType, encoded)), `${eventType} #${i}`);
      }
    }
    // A map with 64-bit keys is beyond it: null, and decodeJson still answers through protobufjs.
    const root = protobuf.parse('syntax = "proto3"; message M { map<int64, string> m = 1; }').root;
    assert.equal(compileJsonDecoder(root.lookupType('M')), null);
  });
});
