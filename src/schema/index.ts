import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SchemaError, SchemaLintError } from '../errors.js';
import { makeBundle } from './bundle.js';
import { renderEventMap } from './codegen.js';
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
  /** The .ts file to write. */
  out: string;
  /** Module specifier the generated file imports types from. Default `multidispatch`. */
  importFrom?: string;
  /** Also write the current descriptor snapshot here (commit it; pass it to --against next time). */
  snapshotOut?: string;
}

export interface CodegenResult {
  out: string;
  eventTypes: string[];
  snapshotOut?: string;
}

/** `multidispatch codegen`: lint the protos, then write the typed event map module. */
export async function codegen(options: CodegenOptions): Promise<CodegenResult> {
  const { bundle, snapshot } = await buildBundle(options);
  const text = renderEventMap(bundle, { importFrom: options.importFrom ?? 'multidispatch', source: options.protoDir });
  await mkdir(dirname(options.out), { recursive: true });
  await writeFile(options.out, text);
  const result: CodegenResult = { out: options.out, eventTypes: bundle.events.map((e) => e.type) };
  if (options.snapshotOut) {
    await mkdir(dirname(options.snapshotOut), { recursive: true });
    await writeFile(options.snapshotOut, `${JSON.stringify(snapshot, null, 2)}\n`);
    result.snapshotOut = options.snapshotOut;
  }
  return result;
}
