import { isDeepStrictEqual } from 'node:util';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import protobuf from 'protobufjs';
import { SchemaError } from '../errors.js';
import { makeBundle } from './bundle.js';
import { BUNDLED_PROTO_DIR, PROTOBUFJS_DIR } from './load.js';
import { extractRules } from './rules.js';
import type { EventRule, EventSchema, SchemaBundle } from './types.js';

/** The records multidispatch writes itself (derive's metric values and alerts), shipped in the package's proto/. */
export const BUILTIN_PROTO_FILES = ['multidispatch/metrics/v1/metrics.proto'] as const;

let loaded: { root: protobuf.Root; bundle: SchemaBundle } | undefined;

function load(): { root: protobuf.Root; bundle: SchemaBundle } {
  if (!loaded) {
    const root = new protobuf.Root();
    // Imports resolve against the package's proto/ (multidispatch/options.proto), then protobufjs' copies of
    // the Google well-known types, as in loadProtoDir.
    root.resolvePath = (_origin, target) => {
      if (isAbsolute(target)) return target;
      const found = [BUNDLED_PROTO_DIR, PROTOBUFJS_DIR].map((r) => join(r, target)).find((p) => existsSync(p));
      return found ?? join(BUNDLED_PROTO_DIR, target);
    };
    const paths = BUILTIN_PROTO_FILES.map((f) => join(BUNDLED_PROTO_DIR, f));
    const missing = paths.find((p) => !existsSync(p));
    if (missing) throw new SchemaError(`${missing} is missing from the package`);
    root.loadSync(paths, { alternateCommentMode: true });
    root.resolveAll();
    const { events, problems } = extractRules(root, BUNDLED_PROTO_DIR, BUILTIN_PROTO_FILES);
    if (problems.length > 0) throw new SchemaError(`the built-in schema breaks a rule: ${problems.map((p) => p.text).join('; ')}`);
    loaded = { root, bundle: makeBundle(root, events) };
  }
  return loaded;
}

/** The protobufjs root of the built-in schema (derive encodes its records with it). */
export function builtinRoot(): protobuf.Root {
  return load().root;
}

/** The built-in schema as a runtime bundle: multidispatch.metrics.v1.DerivedMetric and Alert, with their topics. */
export function builtinBundle(): SchemaBundle {
  return load().bundle;
}

type Descriptor = protobuf.INamespace & { fields?: unknown };

/** Every message and enum of a descriptor, by full name (nested ones inside their message). */
function declarations(ns: protobuf.INamespace, prefix = ''): Map<string, Descriptor> {
  const out = new Map<string, Descriptor>();
  for (const [name, node] of Object.entries(ns.nested ?? {})) {
    const full = prefix ? `${prefix}.${name}` : name;
    const n = node as Descriptor & { values?: unknown };
    if (n.fields !== undefined || n.values !== undefined) out.set(full, n);
    else for (const [k, v] of declarations(n, full)) out.set(k, v);
  }
  return out;
}

/** A descriptor without its comments: two copies of one .proto compare equal even if their comments differ. */
function shape(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(shape);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).filter(([k]) => k !== 'comment' && k !== 'comments').map(([k, v]) => [k, shape(v)]));
}

function mergeNamespaces(into: protobuf.INamespace, from: protobuf.INamespace): void {
  into.nested ??= {};
  for (const [name, node] of Object.entries(from.nested ?? {})) {
    const existing = into.nested[name] as Descriptor | undefined;
    const n = node as Descriptor & { values?: unknown };
    if (!existing) into.nested[name] = structuredClone(node);
    else if (n.fields === undefined && n.values === undefined) mergeNamespaces(existing, n);
    // A declared type present in both: checked equal by the caller; keep the user's copy.
  }
}

/**
 * The user's schema with the built-in one merged in, so that tools reading topics (load, tail) decode the records
 * multidispatch itself writes without the user's --proto folder holding them.
 *
 * The built-in types cannot be shadowed: a user schema that declares a type of the same name with another shape
 * (fields, numbers, types), or makes one of them an event with other rules (another topic), is refused with a
 * SchemaError (CLI exit 3) naming the type. A user schema that carries an identical copy (it imports the bundled
 * metrics.proto, or vendors it unchanged) is accepted.
 *
 * @example
 * const registry = new EventRegistry(withBuiltinSchema(await loadSchema('proto')));
 * registry.has('multidispatch.metrics.v1.DerivedMetric'); // true
 */
export function withBuiltinSchema(schema: EventSchema): EventSchema {
  const user = schema.bundle;
  const builtin = builtinBundle();
  if (!user?.descriptor || !Array.isArray(user.events)) return schema; // EventRegistry reports what is wrong
  const own = declarations(builtin.descriptor);
  for (const [name, node] of declarations(user.descriptor)) {
    const theirs = own.get(name);
    if (theirs && !isDeepStrictEqual(shape(node), shape(theirs))) {
      throw new SchemaError(
        `the schema declares ${name}, which differs from multidispatch's built-in ${name} (proto/${BUILTIN_PROTO_FILES[0]}, the records derive writes); ` +
          'remove it, or import "multidispatch/metrics/v1/metrics.proto" instead of copying it',
      );
    }
  }
  const same = (a: EventRule, b: EventRule) => isDeepStrictEqual({ ...a, file: '' }, { ...b, file: '' });
  for (const e of user.events) {
    const b = builtin.events.find((x) => x.type === e.type);
    if (b && !same(b, e)) {
      throw new SchemaError(`the schema declares ${e.type} as an event (in ${e.file}) with other rules than multidispatch's built-in one (topic '${b.topic}'); remove its option, and map another topic with --topic-rename`);
    }
  }
  const descriptor = structuredClone(user.descriptor);
  mergeNamespaces(descriptor, builtin.descriptor);
  return { bundle: { version: 1, descriptor, events: [...user.events.filter((e) => !builtin.events.some((b) => b.type === e.type)), ...builtin.events].sort((a, b) => a.type.localeCompare(b.type)) } };
}
