import protobuf from 'protobufjs';
import type { LintProblem } from '../errors.js';
import { allTypesOf, fileOf, protoNameOf } from './load.js';

/**
 * A descriptor snapshot: for every message, its field numbers with name and type, and its reserved
 * numbers and names. Written by `multidispatch codegen --snapshot FILE` and read back by `--against FILE`
 * to check that a change is a safe evolution.
 */
export interface DescriptorSnapshot {
  format: 'multidispatch-descriptor-snapshot/1';
  messages: Record<string, { file: string; fields: Record<string, { name: string; type: string }>; reserved: Array<[number, number] | string> }>;
}

export function takeSnapshot(root: protobuf.Root, protoDir: string, files: readonly string[]): DescriptorSnapshot {
  const own = new Set(files);
  const messages: DescriptorSnapshot['messages'] = {};
  for (const type of allTypesOf(root)) {
    const file = fileOf(type, protoDir);
    if (!own.has(file)) continue;
    const fields: Record<string, { name: string; type: string }> = {};
    for (const f of type.fieldsArray) {
      fields[String(f.id)] = { name: protoNameOf(f), type: `${f.repeated ? 'repeated ' : ''}${f.map ? `map<${(f as unknown as protobuf.MapField).keyType},` : ''}${f.type}${f.map ? '>' : ''}` };
    }
    messages[type.fullName.slice(1)] = { file, fields, reserved: (type.reserved ?? []).map((r) => (typeof r === 'string' ? r : [r[0]!, r[1]!])) };
  }
  return { format: 'multidispatch-descriptor-snapshot/1', messages };
}

export function parseSnapshot(text: string, source: string): DescriptorSnapshot {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source} is not a descriptor snapshot (not JSON: ${(err as Error).message})`);
  }
  if ((parsed as DescriptorSnapshot)?.format !== 'multidispatch-descriptor-snapshot/1') {
    throw new Error(`${source} is not a descriptor snapshot (expected format 'multidispatch-descriptor-snapshot/1'; write one with --snapshot)`);
  }
  return parsed as DescriptorSnapshot;
}

/**
 * Compares the current schema with a previous snapshot: a field number that disappeared must be reserved
 * (so it can never be reused with another meaning), and a kept number must keep its type.
 */
export function checkEvolution(previous: DescriptorSnapshot, current: DescriptorSnapshot): LintProblem[] {
  const problems: LintProblem[] = [];
  for (const [message, before] of Object.entries(previous.messages)) {
    const after = current.messages[message];
    if (!after) continue;
    for (const [num, field] of Object.entries(before.fields)) {
      const id = Number(num);
      const now = after.fields[num];
      if (!now) {
        const reserved = after.reserved.some((r) => typeof r !== 'string' && id >= r[0] && id <= r[1]);
        if (!reserved) {
          problems.push({
            file: after.file,
            message,
            field: field.name,
            rule: 'removed-field-reserved',
            text: `field number ${id} was removed but is not reserved: add \`reserved ${id};\` (and \`reserved "${field.name}";\`)`,
          });
        }
      } else if (now.type !== field.type) {
        problems.push({
          file: after.file,
          message,
          field: now.name,
          rule: 'field-type-changed',
          text: `field number ${id} changed type from '${field.type}' to '${now.type}'; old readers would misread it`,
        });
      }
    }
  }
  return problems;
}
