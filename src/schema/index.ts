import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { SchemaError, SchemaLintError } from '../errors.js';
import { makeBundle } from './bundle.js';
import { renderEventMap, renderEventMapJs } from './codegen.js';
import { checkEvolution, parseSnapshot, takeSnapshot } from './evolution.js';
import { loadProtoDir } from './load.js';
import { extractRules } from './rules.js';
import type { EventSchema, SchemaBundle, UntypedEventMap } from './types.js';

export type { EventMapBase, EventRule, EventSchema, Int64, SchemaBundle, TagRule, TimestampInput, UntypedEventMap } from './types.js';
export { EventRegistry, type EncodedEvent } from './registry.js';

export interface BuildSchemaOptions {
  /** Folder of .proto files (the include root, as `protoc -I`). */
  protoDir: string;
  /** A descriptor snapshot from an earlier version: removed field numbers must be reserved. */
  against?: string;
}

/** Loads and lints the protos under a folder and returns the runtime bundle. Throws SchemaLintError. */
export async function buildBundle(options: BuildSchemaOptions): Promise<{ bundle: SchemaBundle; snapshot: ReturnType<typeof takeSnapshot> }> {
  const { root, protoDir, files } = await loadProtoDir(options.protoDir);
  const { events, problems } = extractRules(root, protoDir, files);
  const snapshot = takeSnapshot(root, protoDir, files);
  if (options.against) {
    const text = await readFile(options.against, 'utf8').catch((err: Error) => {
      throw new SchemaError(`cannot read --against snapshot '${options.against}': ${err.message}`);
    });
    let previous;
    try {
      previous = parseSnapshot(text, options.against);
    } catch (err) {
      throw new SchemaError((err as Error).message);
    }
    problems.push(...checkEvolution(previous, snapshot));
  }
  if (problems.length > 0) throw new SchemaLintError(problems);
  if (events.length === 0) throw new SchemaError(`no event messages under '${options.protoDir}': mark messages with option (multidispatch.event) = { topic: "..." }`);
  return { bundle: makeBundle(root, events), snapshot };
}

/**
 * Loads a schema straight from .proto files at run time, for JavaScript users and tools that do not run
 * codegen. TypeScript users get compile-time checks from the generated module instead.
 *
 * @example
 * const schema = await loadSchema('./proto');
 * const publisher = createPublisher({ schema, kafka: { brokers: ['localhost:9092'] } });
 */
export async function loadSchema(protoDir: string): Promise<EventSchema<UntypedEventMap>> {
  const { bundle } = await buildBundle({ protoDir });
  return { bundle };
}

export interface CodegenOptions extends BuildSchemaOptions {
  /**
   * The file to write. `.js` or `.mjs`: an ES module for plain Node plus its declarations beside it
   * (`events.js` → `events.d.ts`, `events.mjs` → `events.d.mts`); anything else: one TypeScript module.
   */
  out: string;
  /** Module specifier the generated file imports types from. Default `multidispatch`. */
  importFrom?: string;
  /** Also write the current descriptor snapshot here (commit it; pass it to --against next time). */
  snapshotOut?: string;
}

export interface CodegenResult {
  out: string;
  /** The declaration file written beside a JavaScript `out`. */
  declarations?: string;
  eventTypes: string[];
  snapshotOut?: string;
}

/**
 * `multidispatch codegen`: lint the protos, then write the typed event map module (TypeScript, or JavaScript
 * with a .d.ts, by the extension of `out`).
 *
 * @example
 * await codegen({ protoDir: 'proto', out: 'src/events.js' }); // writes src/events.js and src/events.d.ts
 */
export async function codegen(options: CodegenOptions): Promise<CodegenResult> {
  const { bundle, snapshot } = await buildBundle(options);
  const render = { importFrom: options.importFrom ?? 'multidispatch', source: options.protoDir };
  const result: CodegenResult = { out: options.out, eventTypes: bundle.events.map((e) => e.type) };
  await mkdir(dirname(options.out), { recursive: true });
  const declarations = declarationsFileFor(options.out);
  if (declarations) {
    const { js, dts } = renderEventMapJs(bundle, render, basename(declarations));
    await writeFile(options.out, js);
    await writeFile(declarations, dts);
    result.declarations = declarations;
  } else {
    await writeFile(options.out, renderEventMap(bundle, render));
  }
  if (options.snapshotOut) {
    await mkdir(dirname(options.snapshotOut), { recursive: true });
    await writeFile(options.snapshotOut, `${JSON.stringify(snapshot, null, 2)}\n`);
    result.snapshotOut = options.snapshotOut;
  }
  return result;
}

/** `events.js` → `events.d.ts`, `events.mjs` → `events.d.mts`; undefined for a TypeScript output. */
function declarationsFileFor(out: string): string | undefined {
  const m = /\.(m?)js$/.exec(out);
  return m ? `${out.slice(0, m.index)}.d.${m[1]}ts` : undefined;
}
