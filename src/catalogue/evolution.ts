import protobuf from 'protobufjs';
import type { LintProblem } from '../errors.js';
import type { CatalogueEntry } from './entry.js';

/**
 * The evolution rules a new version of an event type must keep against the latest version in the catalogue, for
 * the event message and every message and enum it uses. Deliveroo's rules (field numbers, types and names are
 * fixed; a removed field is reserved by number and by name) plus those of buf's WIRE_JSON category that matter once
 * events are JSON in a warehouse.
 */
export const EVOLUTION_RULES = {
  'field-removed-not-reserved': 'a removed field number must be reserved (`reserved N;`), or a later field could reuse it with another meaning',
  'field-name-not-reserved': 'a removed field name must be reserved (`reserved "name";`): the warehouse JSON and the typed views use it',
  'field-name-changed': 'a field keeps its name: the warehouse JSON, typed views and queries use it',
  'field-type-changed': 'a field keeps its type: old readers would misread new records, and new readers old ones',
  'field-cardinality-changed': 'a field keeps its label (singular, optional, repeated, map): the wire and JSON forms differ',
  'field-oneof-changed': 'a field does not move into, out of or between oneofs: presence and JSON change',
  'field-json-name-changed': 'a field keeps its json_name: it is the column name in RECORD_CONTENT',
  'enum-value-removed-not-reserved': 'a removed enum value must be reserved by number, or a later value could reuse it',
  'enum-value-name-changed': 'an enum value keeps its name: the warehouse JSON stores enums by name',
  'package-changed': 'an event type keeps its package: its full name is the event type in every record header, table and metric',
} as const;

export type EvolutionRule = keyof typeof EVOLUTION_RULES;

function rootOf(entry: CatalogueEntry): protobuf.Root {
  const root = protobuf.Root.fromJSON(entry.descriptor);
  root.resolveAll();
  return root;
}

function allOf(ns: protobuf.NamespaceBase): Array<protobuf.Type | protobuf.Enum> {
  const out: Array<protobuf.Type | protobuf.Enum> = [];
  for (const n of ns.nestedArray) {
    if (n instanceof protobuf.Type || n instanceof protobuf.Enum) out.push(n);
    if (n instanceof protobuf.Namespace || n instanceof protobuf.Type) out.push(...allOf(n));
  }
  return out;
}

function labelOf(f: protobuf.Field): string {
  if (f.map) return 'map';
  if (f.repeated) return 'repeated';
  if (f.options?.proto3_optional === true || syntheticOneof(f)) return 'optional';
  return 'singular';
}

function syntheticOneof(f: protobuf.Field): boolean {
  return !!f.partOf && f.partOf.oneof.length === 1 && f.partOf.name === `_${f.name}`;
}

function oneofOf(f: protobuf.Field): string | undefined {
  return f.partOf && !syntheticOneof(f) && f.options?.proto3_optional !== true ? f.partOf.name : undefined;
}

function typeOf(f: protobuf.Field): string {
  f.resolve();
  const t = f.resolvedType ? f.resolvedType.fullName.slice(1) : f.type;
  return f.map ? `map<${(f as unknown as protobuf.MapField).keyType}, ${t}>` : t;
}

function numberReserved(reserved: Array<number[] | string> | undefined, n: number): boolean {
  return (reserved ?? []).some((r) => typeof r !== 'string' && n >= r[0]! && n <= r[1]!);
}

function nameReserved(reserved: Array<number[] | string> | undefined, name: string): boolean {
  return (reserved ?? []).some((r) => r === name);
}

/** The field's name as the .proto spells it (the descriptor holds protobufjs' lowerCamelCase form). */
function shown(f: protobuf.Field): string {
  return protoStyle(f.name);
}

/**
 * Every rule `next` breaks against `previous` (the same event type's latest catalogued version); empty when the
 * change is compatible.
 */
export function checkEvolution(previous: CatalogueEntry, next: CatalogueEntry): LintProblem[] {
  const before = rootOf(previous);
  const after = rootOf(next);
  const problems: LintProblem[] = [];
  const fileOf = (name: string) => next.files[name] ?? next.rule.file;
  const add = (rule: EvolutionRule, message: string, field: string | undefined, text: string) => {
    const p: LintProblem = { file: fileOf(message), message, rule, text };
    if (field !== undefined) p.field = field;
    problems.push(p);
  };
  for (const old of allOf(before)) {
    const name = old.fullName.slice(1);
    const now = after.lookup(old.fullName);
    if (!now) continue;
    if (old instanceof protobuf.Type && now instanceof protobuf.Type) {
      for (const f of old.fieldsArray) {
        const g = now.fieldsById[f.id];
        if (!g) {
          if (!numberReserved(now.reserved as Array<number[] | string>, f.id)) {
            add('field-removed-not-reserved', name, shown(f), `field ${f.id} ('${shown(f)}') was removed but its number is not reserved: add \`reserved ${f.id};\``);
          }
          if (!nameReserved(now.reserved as Array<number[] | string>, f.name) && !nameReserved(now.reserved as Array<number[] | string>, shown(f)) && !now.fields[f.name]) {
            add('field-name-not-reserved', name, shown(f), `field ${f.id} ('${shown(f)}') was removed but its name is not reserved: add \`reserved "${shown(f)}";\``);
          }
          continue;
        }
        if (g.name !== f.name) add('field-name-changed', name, shown(g), `field ${f.id} was renamed from '${shown(f)}' to '${shown(g)}'`);
        if (typeOf(g) !== typeOf(f)) add('field-type-changed', name, shown(g), `field ${f.id} ('${shown(g)}') changed type from '${typeOf(f)}' to '${typeOf(g)}'`);
        if (labelOf(g) !== labelOf(f)) add('field-cardinality-changed', name, shown(g), `field ${f.id} ('${shown(g)}') changed from ${labelOf(f)} to ${labelOf(g)}`);
        const o1 = oneofOf(f);
        const o2 = oneofOf(g);
        if (o1 !== o2) {
          add('field-oneof-changed', name, shown(g), o1 === undefined ? `field ${f.id} ('${shown(g)}') moved into oneof '${o2}'` : o2 === undefined ? `field ${f.id} ('${shown(g)}') moved out of oneof '${o1}'` : `field ${f.id} ('${shown(g)}') moved from oneof '${o1}' to '${o2}'`);
        }
        const j1 = f.options?.json_name as string | undefined;
        const j2 = g.options?.json_name as string | undefined;
        if (j1 !== j2) add('field-json-name-changed', name, shown(g), `field ${f.id} ('${shown(g)}') changed json_name from ${j1 === undefined ? 'the default' : `'${j1}'`} to ${j2 === undefined ? 'the default' : `'${j2}'`}`);
      }
    } else if (old instanceof protobuf.Enum && now instanceof protobuf.Enum) {
      for (const [valueName, id] of Object.entries(old.values)) {
        const namesNow = Object.entries(now.values).filter(([, v]) => v === id).map(([n]) => n);
        if (namesNow.length === 0) {
          if (!numberReserved(now.reserved as Array<number[] | string>, id)) {
            add('enum-value-removed-not-reserved', name, valueName, `enum value ${valueName} = ${id} was removed but ${id} is not reserved: add \`reserved ${id};\``);
          }
        } else if (!namesNow.includes(valueName)) {
          add('enum-value-name-changed', name, valueName, `enum value ${id} was renamed from ${valueName} to ${namesNow.join(' / ')}`);
        }
      }
    }
  }
  return problems;
}

/**
 * Event types pushed under a new package while the catalogue holds one of the same name and topic under another,
 * which the push does not carry any more: a package rename.
 */
export function packageRenames(latest: readonly CatalogueEntry[], pushed: readonly CatalogueEntry[]): LintProblem[] {
  const pushedTypes = new Set(pushed.map((e) => e.type));
  const problems: LintProblem[] = [];
  for (const p of pushed) {
    if (latest.some((l) => l.type === p.type)) continue;
    const simple = p.type.slice(p.type.lastIndexOf('.') + 1);
    const was = latest.find((l) => l.status === 'active' && !pushedTypes.has(l.type) && l.topic === p.topic && l.type.slice(l.type.lastIndexOf('.') + 1) === simple);
    if (was) {
      problems.push({
        file: p.rule.file,
        message: p.type,
        rule: 'package-changed',
        text: `looks like ${was.type} (topic ${was.topic}) under a new package; keep the package, or publish the new type beside the old one and deprecate the old (catalogue push --deprecate ${was.type})`,
      });
    }
  }
  return problems;
}

/** `userId` → `user_id`: the name to reserve as the .proto spells it. */
function protoStyle(jsonName: string): string {
  return jsonName.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
