import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, posix, relative, sep } from 'node:path';
import protobuf from 'protobufjs';

/**
 * protoc's import rule, which protobufjs does not apply (it resolves every name against everything loaded): a
 * file may use a type, or a custom option, only when it is declared in that file, in a file it imports, or in a
 * file one of those re-exports with `import public`. A schema that breaks it builds here but not with protoc,
 * so each problem is reported as `file:line:column: reason` naming the import to add.
 */

/** Google well-known types that protobufjs carries in itself (they have no file on disk): full name → import path. */
const WELL_KNOWN = ((): Map<string, string> => {
  const out = new Map<string, string>();
  const common = protobuf.common as unknown as Record<string, unknown> & { get(file: string): protobuf.INamespace | null };
  const walk = (ns: protobuf.INamespace, prefix: string, file: string): void => {
    for (const [name, node] of Object.entries(ns.nested ?? {})) {
      const full = prefix ? `${prefix}.${name}` : name;
      if ('fields' in node || 'values' in node) out.set(full, file);
      if ('nested' in node && node.nested) walk(node as protobuf.INamespace, full, file);
    }
  };
  for (const file of Object.keys(common)) {
    const json = file.endsWith('.proto') ? common.get(file) : null;
    if (json) walk(json, '', file);
  }
  return out;
})();
const WELL_KNOWN_FILES = new Set(WELL_KNOWN.values());

/** The import that declares a Google well-known type protobufjs knows (`google.protobuf.Timestamp`), if any. */
export function wellKnownImportOf(typeName: string): string | undefined {
  return WELL_KNOWN.get(typeName.replace(/^\./, ''));
}

/** The hint when a multidispatch option is used but its definition was never loaded at all. */
const OPTIONS_IMPORT = 'multidispatch/options.proto';

interface SourceFile {
  lines: string[];
  imports: string[];
  publicImports: string[];
}

/**
 * Checks every type reference and custom option in `files` (paths relative to the first include root) against
 * the files each one imports. `roots` are the include roots, in the order imports resolve against them; `label`
 * is the proto folder as the user gave it, for the paths in the messages. Returns one line per missing import
 * per file.
 *
 * @example
 * const lines = checkImports(root, ['shop/a.proto'], [dir, BUNDLED_PROTO_DIR, PROTOBUFJS_DIR], 'proto', protoNameOf);
 */
export function checkImports(root: protobuf.Root, files: readonly string[], roots: readonly string[], label: string, protoNameOf: (f: protobuf.Field) => string): string[] {
  // Files are compared by where they were loaded from (an absolute path, or the name of a well-known file that
  // protobufjs carries), as the loader resolved them: a file reachable from two include roots is still one file.
  const dir = roots[0]!;
  const own = new Set(files.map((f) => join(dir, f)));
  const resolveImport = (name: string): string => {
    const idx = name.lastIndexOf('google/protobuf/');
    if (idx >= 0 && WELL_KNOWN_FILES.has(name.slice(idx))) return name.slice(idx);
    return roots.map((r) => join(r, name)).find((p) => existsSync(p)) ?? join(dir, name);
  };
  const sources = new Map<string, SourceFile | undefined>();
  const source = (file: string): SourceFile | undefined => {
    if (!sources.has(file)) sources.set(file, readSource(file, resolveImport));
    return sources.get(file);
  };
  /** The name to import a loaded file by: relative to the first include root that holds it. */
  const importName = (file: string): string => {
    if (!isAbsolute(file)) return file;
    for (const r of roots) {
      const rel = relative(r, file);
      if (!rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
    }
    return file;
  };
  const definedIn = (obj: protobuf.ReflectionObject): string | undefined => obj.filename ?? wellKnownImportOf(obj.fullName);

  const visibleCache = new Map<string, Set<string>>();
  const visible = (file: string): Set<string> => {
    let set = visibleCache.get(file);
    if (!set) {
      set = new Set([file]);
      const pending = [...(source(file)?.imports ?? [])];
      while (pending.length > 0) {
        const next = pending.pop()!;
        if (set.has(next)) continue;
        set.add(next);
        pending.push(...(source(next)?.publicImports ?? []));
      }
      visibleCache.set(file, set);
    }
    return set;
  };

  const problems: string[] = [];
  const reported = new Set<string>();
  const report = (file: string, at: { line: number; column: number }, key: string, text: string): void => {
    // One line per missing import per file: the first place that needs it.
    if (reported.has(`${file}\0${key}`)) return;
    reported.add(`${file}\0${key}`);
    problems.push(`${join(label, relative(dir, file))}:${at.line}:${at.column}: ${text}`);
  };
  const needs = (file: string, name: string, definer: string): string =>
    `${name} is defined in "${importName(definer)}", which ${importName(file)} does not import; add: import "${importName(definer)}";`;

  const checkOptions = (file: string, obj: protobuf.ReflectionObject, scope: protobuf.NamespaceBase, from: number): void => {
    for (const entry of (obj.parsedOptions ?? []) as Array<Record<string, unknown>>) {
      for (const key of Object.keys(entry)) {
        const m = /^\((\.?[\w.]+)\)/.exec(key);
        if (!m) continue;
        const name = m[1]!;
        const ext = scope.lookup(name.replace(/^\./, ''));
        const definer = ext ? definedIn(ext) : undefined;
        if (definer && visible(file).has(definer)) continue;
        const at = find(source(file)?.lines ?? [], from, new RegExp(`\\(\\s*${escape(name)}\\s*\\)`));
        if (definer) report(file, at, definer, needs(file, `option (${name})`, definer));
        else {
          const ours = name.replace(/^\./, '').startsWith('multidispatch.');
          const hint = ours ? `; add: import "${OPTIONS_IMPORT}";` : '; import the file that defines it';
          report(file, at, ours ? OPTIONS_IMPORT : `(${name})`, `option (${name}) is not defined by ${importName(file)} or any file it imports${hint}`);
        }
      }
    }
  };

  for (const type of allTypes(root)) {
    const file = type.filename;
    if (!file || !own.has(file)) continue;
    const lines = source(file)?.lines ?? [];
    const start = messageLine(type, lines);
    checkOptions(file, type, type, start);
    for (const field of type.fieldsArray) {
      const fieldAt = find(lines, start, new RegExp(`(^|[^\\w.])${escape(protoNameOf(field))}\\s*=\\s*${field.id}(?!\\d)`));
      const rt = field.resolvedType;
      const definer = rt ? definedIn(rt) : undefined;
      if (rt && definer && !visible(file).has(definer)) {
        const column = columnOfWord(lines[fieldAt.line - 1] ?? '', field.type);
        report(file, { line: fieldAt.line, column: column ?? fieldAt.column }, definer, needs(file, rt.fullName.slice(1), definer));
      }
      if (field.parent) checkOptions(file, field, field.parent, fieldAt.line - 1);
    }
  }
  return problems;
}

function allTypes(ns: protobuf.NamespaceBase): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) out.push(nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) out.push(...allTypes(nested));
  }
  return out;
}

function readSource(file: string, resolveImport: (name: string) => string): SourceFile | undefined {
  if (!isAbsolute(file) || !existsSync(file)) return undefined; // a well-known file carried by protobufjs: imports nothing
  const text = readFileSync(file, 'utf8');
  let imports: string[] = [];
  try {
    const parsed = protobuf.parse(text, new protobuf.Root(), { keepCase: true, alternateCommentMode: true });
    imports = [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])].map((i) => resolveImport(posix.normalize(i)));
  } catch {
    // The loader already parsed every file it loaded; an unparsable one is not reached through imports.
  }
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const publicImports = [...code.matchAll(/\bimport\s+public\s+"([^"]+)"/g)].map((m) => resolveImport(posix.normalize(m[1]!)));
  return { lines: text.split('\n'), imports, publicImports };
}

/** 0-based index of the line declaring `type` (nested types searched from their parent's line); 0 when not found. */
function messageLine(type: protobuf.Type, lines: string[]): number {
  const from = type.parent instanceof protobuf.Type ? messageLine(type.parent, lines) : 0;
  return find(lines, from, new RegExp(`\\bmessage\\s+${escape(type.name)}\\b`)).line - 1;
}

/** The first line at or after `from` (0-based) matching `re` outside a // comment, as 1-based line and column. */
function find(lines: string[], from: number, re: RegExp): { line: number; column: number } {
  for (let i = Math.max(0, from); i < lines.length; i++) {
    const m = re.exec(lines[i]!.replace(/\/\/.*$/, ''));
    if (m) return { line: i + 1, column: m.index + (m[1]?.length ?? 0) + 1 };
  }
  return { line: from + 1, column: 1 };
}

function columnOfWord(line: string, word: string): number | undefined {
  const m = new RegExp(`(^|[^\\w.])${escape(word)}(?![\\w.])`).exec(line.replace(/\/\/.*$/, ''));
  return m ? m.index + m[1]!.length + 1 : undefined;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
