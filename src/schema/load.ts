import { readdir, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { SchemaError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The package's own proto folder, which holds multidispatch/options.proto. */
export const BUNDLED_PROTO_DIR = findBundledProtoDir();

function findBundledProtoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'multidispatch', 'options.proto'))) return candidate;
    dir = dirname(dir);
  }
  throw new SchemaError('cannot find the bundled proto/multidispatch/options.proto next to the package');
}

const PROTOBUFJS_DIR = dirname(require.resolve('protobufjs/package.json'));

export interface LoadedProtos {
  root: protobuf.Root;
  /** The include root the files were found under. */
  protoDir: string;
  /** Files loaded, relative to protoDir, sorted. */
  files: string[];
}

/** Finds every .proto under `dir`, sorted, as paths relative to `dir`. */
export async function findProtoFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && entry.name.endsWith('.proto')) out.push(relative(dir, full).split(sep).join('/'));
    }
  }
  await walk(dir);
  return out.sort();
}

/**
 * Loads every .proto under `protoDir` the way `protoc -I protoDir` would: imports resolve against protoDir,
 * then against the package's bundled proto/ (for multidispatch/options.proto), then protobufjs' copies of
 * the Google well-known types.
 */
export async function loadProtoDir(protoDir: string): Promise<LoadedProtos> {
  const dir = resolve(protoDir);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new SchemaError(`proto directory '${protoDir}' does not exist`);
  const files = (await findProtoFiles(dir)).filter((f) => !(dir !== BUNDLED_PROTO_DIR && f.startsWith('google/')));
  if (files.length === 0) throw new SchemaError(`no .proto files under '${protoDir}'`);

  const paths = files.map((f) => join(dir, f));
  const root = await loadRoot(dir, paths, false, protoDir);
  // protobufjs camel-cases field names and forgets the originals; a second, case-keeping parse recovers
  // them by field number (StatsD tag names and lint messages use the names as written).
  const kept = await loadRoot(dir, paths, true, protoDir);
  for (const type of allTypesOf(root)) {
    const twin = kept.lookupType(type.fullName);
    for (const field of type.fieldsArray) {
      const original = twin.fieldsById[field.id];
      if (original) PROTO_NAMES.set(field, original.name);
    }
  }
  return { root, protoDir: dir, files };
}

const PROTO_NAMES = new WeakMap<protobuf.Field, string>();

/** The field's name as written in the .proto file. */
export function protoNameOf(field: protobuf.Field): string {
  return PROTO_NAMES.get(field) ?? field.name;
}

export function allTypesOf(ns: protobuf.NamespaceBase): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) out.push(nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) out.push(...allTypesOf(nested));
  }
  return out;
}

async function loadRoot(dir: string, paths: string[], keepCase: boolean, label: string): Promise<protobuf.Root> {
  const root = new protobuf.Root();
  const roots = [dir, BUNDLED_PROTO_DIR, PROTOBUFJS_DIR];
  root.resolvePath = (_origin, target) => {
    if (target.startsWith('/') || existsSync(target)) return target;
    for (const r of roots) {
      const candidate = join(r, target);
      if (existsSync(candidate)) return candidate;
    }
    return join(dir, target);
  };
  try {
    // Synchronous: the asynchronous load resolves types inside a file-read callback, so an unknown type
    // there is an uncaught exception that kills the process instead of an error the caller can report.
    root.loadSync(paths, { keepCase, alternateCommentMode: true });
  } catch (err) {
    const located = locateParseError(dir, paths, keepCase, label);
    throw new SchemaError(located ?? `cannot load protos under '${label}': ${(err as Error).message}`, { cause: err });
  }
  return root;
}

/**
 * protobufjs names the broken file in only some of its parse errors, and tokenizer errors (an unclosed string
 * or comment) in none; so after a failed load each file is parsed on its own and the first that fails is
 * reported as `path:line: reason`, the path as the user gave the folder. Undefined when every file parses
 * alone (the problem is between files: an unknown type, a name defined twice).
 */
function locateParseError(dir: string, paths: string[], keepCase: boolean, label: string): string | undefined {
  for (const path of paths) {
    const shown = join(label, relative(dir, path));
    let source: string;
    try {
      source = readFileSync(path, 'utf8');
    } catch (err) {
      return `${shown}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
    try {
      protobuf.parse(source, new protobuf.Root(), { keepCase, alternateCommentMode: true });
    } catch (err) {
      const message = (err as Error).message;
      // Errors at the end of the file (an unclosed comment) count the lines after the last one too.
      const lastLine = source.trimEnd().split('\n').length;
      // protobufjs calls string methods on the tokenizer's null when a file ends inside a declaration.
      if (err instanceof TypeError) return `${shown}:${lastLine}: unexpected end of file`;
      const at = /\s*\((?:[^()]*, )?line (\d+)\)$/.exec(message);
      return at ? `${shown}:${Math.min(Number(at[1]), lastLine)}: ${message.slice(0, at.index)}` : `${shown}: ${message}`;
    }
  }
  return undefined;
}

/** Path of a reflection object's declaring file, relative to the proto root. */
export function fileOf(obj: protobuf.ReflectionObject, protoDir: string): string {
  const f = obj.filename;
  if (!f) return '<unknown>';
  return relative(protoDir, f).split(sep).join('/');
}
