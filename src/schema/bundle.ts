import protobuf from 'protobufjs';
import type { EventRule, SchemaBundle } from './types.js';

/**
 * Builds the runtime bundle: the rules plus a descriptor pruned to the event messages and every type they
 * reference (the options extensions and google/protobuf/descriptor.proto are left out).
 */
export function makeBundle(root: protobuf.Root, events: EventRule[]): SchemaBundle {
  const needed = new Set<protobuf.Type | protobuf.Enum>();
  const visit = (t: protobuf.Type | protobuf.Enum): void => {
    const top = outermost(t);
    if (needed.has(top)) return;
    needed.add(top);
    if (top instanceof protobuf.Type) for (const inner of typesWithin(top)) for (const f of inner.fieldsArray) if (f.resolvedType) visit(f.resolvedType);
  };
  for (const e of events) visit(root.lookupType(e.type));

  const descriptor: protobuf.INamespace = { nested: {} };
  for (const t of [...needed].sort((a, b) => a.fullName.localeCompare(b.fullName))) {
    const path = t.fullName.slice(1).split('.');
    const name = path.pop()!;
    let ns = descriptor;
    for (const part of path) {
      ns.nested ??= {};
      ns = (ns.nested[part] ??= { nested: {} }) as protobuf.INamespace;
    }
    ns.nested ??= {};
    ns.nested[name] = stripOptions(t.toJSON({ keepComments: true })) as protobuf.AnyNestedObject;
  }
  return { version: 1, descriptor, events };
}

/** Nested types are carried inside their outermost message, so take that one. */
function outermost(t: protobuf.Type | protobuf.Enum): protobuf.Type | protobuf.Enum {
  let cur: protobuf.Type | protobuf.Enum = t;
  while (cur.parent instanceof protobuf.Type) cur = cur.parent;
  return cur;
}

function typesWithin(t: protobuf.Type): protobuf.Type[] {
  const out = [t];
  for (const n of t.nestedArray) if (n instanceof protobuf.Type) out.push(...typesWithin(n));
  return out;
}

/** Custom options are rules already extracted into the bundle; dropping them keeps the generated file small. */
function stripOptions(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(stripOptions);
  if (!json || typeof json !== 'object') return json;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    if (k === 'valuesOptions' || (k === 'comment' && !v)) continue;
    if (k === 'options' && v && typeof v === 'object') {
      // Keep what changes encoding (proto3_optional, packed); drop the custom options.
      const kept = Object.fromEntries(Object.entries(v).filter(([name]) => !name.startsWith('(')));
      if (Object.keys(kept).length > 0) out[k] = kept;
      continue;
    }
    out[k] = stripOptions(v);
  }
  return out;
}
