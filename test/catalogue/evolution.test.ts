/**
 * Catalogue evolution rules: every rule refuses the change it names (with file, message and field), compatible
 * changes pass, and the fingerprint moves with the shape (nested types included) but not with comments.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { entriesFromProtos, type CatalogueEntry } from '../../src/catalogue/entry.js';
import { checkEvolution, EVOLUTION_RULES, packageRenames } from '../../src/catalogue/evolution.js';
import { EventRegistry } from '../../src/schema/registry.js';
import { bundleOf } from '../../src/catalogue/entry.js';

const BASE = `syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
import "multidispatch/options.proto";

// How the order was paid.
enum Method { METHOD_UNSPECIFIED = 0; CARD = 1; CASH = 2; }

message Money {
  int64 amount_minor = 1;
  string currency = 2;
}

// A customer placed an order.
message OrderPlaced {
  option (multidispatch.event) = { topic: "shop.orders" key_field: "order_id" };
  // The order's id, unique per market.
  string order_id = 1 [(multidispatch.field).high_cardinality = true];
  string market = 2 [(multidispatch.field) = { tag: true allowed_values: ["GB", "FR"] }];
  Method method = 3 [(multidispatch.field).tag = true];
  Money total = 4;
  repeated string items = 5;
  oneof promo {
    string code = 6;
    int32 percent = 7;
  }
  string note = 8;
  optional string channel = 9;
  google.protobuf.Timestamp placed_at = 10 [(multidispatch.field).event_time = true];
}
`;

async function entryOf(t: { after(fn: () => unknown): unknown }, text: string, type = 'shop.v1.OrderPlaced'): Promise<CatalogueEntry> {
  const dir = await mkdtemp(join(tmpdir(), 'md-cat-evo-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'shop.proto'), text);
  const { entries } = await entriesFromProtos(dir);
  const e = entries.find((x) => x.type === type);
  assert.ok(e, `${type} built`);
  return e;
}

const change = (from: string, to: string) => {
  assert.ok(BASE.includes(from), `the base schema contains ${from}`);
  return BASE.replace(from, to);
};

describe('catalogue evolution', () => {
  it('builds an entry with docs, tags, high-cardinality flags and a self-contained descriptor that decodes', async (t) => {
    const e = await entryOf(t, BASE);
    assert.equal(e.topic, 'shop.orders');
    assert.equal(e.doc, 'A customer placed an order.');
    const byName = Object.fromEntries(e.fields.map((f) => [f.name, f]));
    assert.equal(byName.order_id!.doc, "The order's id, unique per market.");
    assert.equal(byName.order_id!.highCardinality, true);
    assert.equal(byName.order_id!.key, true);
    assert.equal(byName.market!.tag, true);
    assert.equal(byName.placed_at!.eventTime, true);
    assert.equal(byName.channel!.label, 'optional');
    assert.equal(byName.code!.oneof, 'promo');
    assert.equal(byName.total!.type, 'shop.v1.Money');
    assert.equal(e.files['shop.v1.Money'], 'shop.proto');
    // The descriptor alone (no .proto on disk) encodes and decodes the event, and gives the same fingerprint.
    const registry = new EventRegistry(bundleOf(JSON.parse(JSON.stringify(e)) as CatalogueEntry));
    const { bytes } = registry.encode('shop.v1.OrderPlaced', { orderId: 'o1', market: 'GB', method: 'CARD', total: { amountMinor: 5, currency: 'GBP' }, items: ['a'], note: 'n' });
    assert.equal(registry.decode('shop.v1.OrderPlaced', bytes).orderId, 'o1');
    assert.equal(registry.lookup('shop.v1.OrderPlaced').fingerprint, e.fingerprint);
  });

  it('keeps the fingerprint for a comment change and moves it for a nested type change', async (t) => {
    const base = await entryOf(t, BASE);
    assert.equal((await entryOf(t, change('// A customer placed an order.', '// Someone ordered.'))).fingerprint, base.fingerprint);
    assert.notEqual((await entryOf(t, change('string currency = 2;', 'string currency = 2;\n  string note = 3;'))).fingerprint, base.fingerprint);
  });

  const refusals: Array<[keyof typeof EVOLUTION_RULES, string, string, string]> = [
    ['field-removed-not-reserved', '  string note = 8;\n', '  reserved "note";\n', 'note'],
    ['field-name-not-reserved', '  string note = 8;\n', '  reserved 8;\n', 'note'],
    ['field-name-changed', 'string note = 8;', 'string remark = 8;', 'remark'],
    ['field-type-changed', 'Money total = 4;', 'int64 total = 4;', 'total'],
    ['field-type-changed', 'int64 amount_minor = 1;', 'int32 amount_minor = 1;', 'amount_minor'],
    ['field-cardinality-changed', 'repeated string items = 5;', 'string items = 5;', 'items'],
    ['field-cardinality-changed', 'optional string channel = 9;', 'string channel = 9;', 'channel'],
    ['field-oneof-changed', '    int32 percent = 7;\n  }\n  string note = 8;', '  }\n  int32 percent = 7;\n  string note = 8;', 'percent'],
    ['field-oneof-changed', '  }\n  string note = 8;', '    string note = 8;\n  }', 'note'],
    ['field-json-name-changed', 'string note = 8;', 'string note = 8 [json_name = "remark"];', 'note'],
    ['enum-value-removed-not-reserved', ' CASH = 2; }', ' }', 'CASH'],
    ['enum-value-name-changed', 'CASH = 2;', 'COINS = 2;', 'CASH'],
  ];
  for (const [rule, from, to, field] of refusals) {
    it(`refuses ${rule} (${from.trim()} → ${to.trim()})`, async (t) => {
      const before = await entryOf(t, BASE);
      const after = await entryOf(t, change(from, to));
      const problems = checkEvolution(before, after);
      const hit = problems.find((p) => p.rule === rule);
      assert.ok(hit, `expected ${rule}, got ${JSON.stringify(problems)}`);
      assert.equal(hit.field, field);
      assert.equal(hit.file, 'shop.proto');
      assert.match(hit.message!, /^shop\.v1\.(OrderPlaced|Money|Method)$/);
    });
  }

  it('accepts compatible changes: a new field, a removal reserved by number and name, a new enum value, a docs change', async (t) => {
    const before = await entryOf(t, BASE);
    for (const [from, to] of [
      ['  string note = 8;\n', '  string note = 8;\n  string coupon = 11;\n'],
      ['  string note = 8;\n', '  reserved 8;\n  reserved "note";\n'],
      [' CASH = 2; }', ' CASH = 2; VOUCHER = 3; }'],
      ['// A customer placed an order.', '// A customer placed an order (docs only).'],
      [' CASH = 2; }', ' reserved 2; }'],
    ]) {
      const after = await entryOf(t, change(from!, to!));
      assert.deepEqual(checkEvolution(before, after), [], `${from!.trim()} → ${to!.trim()}`);
    }
  });

  it('refuses a package rename of a catalogued type on the same topic', async (t) => {
    const before = await entryOf(t, BASE);
    const moved = await entryOf(t, BASE.replace('package shop.v1;', 'package shop.v2;'), 'shop.v2.OrderPlaced');
    const problems = packageRenames([before], [moved]);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.rule, 'package-changed');
    assert.match(problems[0]!.text, /shop\.v1\.OrderPlaced/);
    // Both published side by side (the old one still pushed): not a rename.
    assert.deepEqual(packageRenames([before], [moved, before]), []);
  });
});
