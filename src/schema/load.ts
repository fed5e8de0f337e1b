import { readdir, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { SchemaError } from '../errors.js';
import { checkImports, wellKnownImportOf } from './imports.js';

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

/** protobufjs' own copies of the Google well-known types (google/protobuf/*.proto) are under this folder. */
export const PROTOBUFJS_DIR = dirname(require.resolve('protobufjs/package.json'));

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
 * the Google well-known types; and, as protoc, a file may only use the types and options of the files it
 * imports (see imports.ts).
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
  const missing = checkImports(root, files, [dir, BUNDLED_PROTO_DIR, PROTOBUFJS_DIR], protoDir, protoNameOf);
  if (missing.length > 0) throw new SchemaError(missing.join('\n'));
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
    // Imports resolve against the include roots only, as with protoc -I: never against the working directory,
    // where `b/two.proto` would be a second name for a file already loaded by its absolute path.
    if (isAbsolute(target)) return target;
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
    const located = locateParseError(dir, paths, keepCase, label) ?? locateUnknownType(dir, paths, keepCase, label, (err as Error).message);
    throw new SchemaError(located ?? `cannot load protos under '${label}': ${(err as Error).message}`, { cause: err });
  }
  return root;
}

/**
 * protobufjs names the broken file in only some of its parse errors, and tokenizer errors (an unclosed string
 * or comment) in none; so after a failed load each file is parsed on its own and the first that fails is
 * reported as `path:line:column: reason` (protoc's form), the path as the user gave the folder. Undefined when
 * every file parses alone (the problem is between files: an unknown type, a name defined twice).
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
      const lines = source.trimEnd().split('\n');
      // protobufjs calls string methods on the tokenizer's null when a file ends inside a declaration.
      if (err instanceof TypeError) return `${shown}:${lines.length}:${lines[lines.length - 1]!.length + 1}: unexpected end of file`;
      const message = (err as Error).message;
      const at = /\s*\((?:[^()]*, )?line (\d+)\)$/.exec(message);
      if (!at) return `${shown}: ${message}`;
      const reason = message.slice(0, at.index);
      if (reason === 'illegal comment') {
        // Reported where the file ends; the place to fix is where the comment opens.
        const open = source.lastIndexOf('/*');
        if (open >= 0 && !source.includes('*/', open + 2)) {
          const before = source.slice(0, open).split('\n');
          return `${shown}:${before.length}:${before[before.length - 1]!.length + 1}: unclosed comment`;
        }
      }
      // Errors at the end of the file count the lines after the last one too.
      const line = Math.min(Number(at[1]), lines.length);
      const column = columnOf(lines[line - 1] ?? '', reason);
      return `${shown}:${line}${column === undefined ? '' : `:${column}`}: ${reason}`;
    }
  }
  return undefined;
}

/**
 * `no such Type or Enum 'Money' in Type .orders.v1.Order` names neither file nor line: find the file that
 * declares the type the reference is in, and the first line there that names the missing type.
 */
function locateUnknownType(dir: string, paths: string[], keepCase: boolean, label: string, message: string): string | undefined {
  const m = /^no such (?:Type or Enum|type) '([\w.]+)' in \w+ \.([\w.]+)$/.exec(message);
  if (!m) return undefined;
  const [, missing, owner] = m as unknown as [string, string, string];
  for (const path of paths) {
    let source: string;
    try {
      source = readFileSync(path, 'utf8');
      const parsed = protobuf.parse(source, new protobuf.Root(), { keepCase, alternateCommentMode: true });
      if (!parsed.root.lookup(owner)) continue;
    } catch {
      continue;
    }
    const shown = join(label, relative(dir, path));
    const word = new RegExp(`(^|[^\\w.])${missing.replace(/\./g, '\\.')}(?![\\w.])`);
    const lines = source.split('\n');
    const i = lines.findIndex((l) => word.test(l.replace(/\/\/.*$/, '')));
    const where = i < 0 ? '' : `:${i + 1}:${lines[i]!.search(word) + (word.exec(lines[i]!)![1]!.length) + 1}`;
    // protoc's own case: a well-known type used without its import (and no other file imported it either).
    const wellKnown = wellKnownImportOf(missing);
    const hint = wellKnown ? `: it is defined in "${wellKnown}", which ${relative(dir, path).split(sep).join('/')} does not import; add: import "${wellKnown}";` : '';
    return `${shown}${where}: unknown type '${missing}' (in ${owner})${hint}`;
  }
  return undefined;
}

/**
 * protobufjs reports lines only. The column (1-based) is where the token it names starts on that line, outside
 * a trailing // comment: its first occurrence, which is the one it stopped at unless the same token appears
 * earlier on the line. An unclosed string points at its opening quote.
 */
function columnOf(text: string, reason: string): number | undefined {
  const code = text.replace(/\/\/.*$/, '');
  let index = -1;
  const token = /^illegal [a-z ]+ '(.*?)'(?:, '.*' expected)?$/.exec(reason)?.[1];
  if (token) index = code.indexOf(token);
  else if (reason === 'illegal string') index = code.search(/["']/);
  return index < 0 ? undefined : index + 1;
}

/** Path of a reflection object's declaring file, relative to the proto root. */
export function fileOf(obj: protobuf.ReflectionObject, protoDir: string): string {
  const f = obj.filename;
  if (!f) return '<unknown>';
  return relative(protoDir, f).split(sep).join('/');
}
