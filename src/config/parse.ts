import type { z } from 'zod';
import { OptionsError } from '../errors.js';

/** `['kafka', 'brokers', 0]` → `kafka.brokers[0]`. */
export function formatPath(path: ReadonlyArray<string | number>, root?: string): string {
  let out = root ?? '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out || '(options)';
}

/**
 * Validates options against their schema, applying defaults. The first problem becomes an OptionsError that
 * names the option's path; values are never echoed, so a bad password cannot end up in a log.
 */
export function parseOptions<S extends z.ZodTypeAny>(schema: S, input: unknown, root?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  let problem = issue.message;
  if (issue.code === 'unrecognized_keys') {
    return throwUnknown(issue.keys, issue.path, root);
  }
  if (issue.code === 'invalid_type' && issue.received === 'undefined') problem = 'is required';
  throw new OptionsError(formatPath(issue.path, root), problem);
}

function throwUnknown(keys: string[], path: ReadonlyArray<string | number>, root?: string): never {
  throw new OptionsError(formatPath([...path, keys[0]!], root), 'is not a known option');
}
