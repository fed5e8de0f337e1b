import type { Option } from 'commander';

/**
 * One layout for every command's --help: lines wrapped at 100 columns, a wrapped line continuing under its
 * description column (the text after the first run of two spaces) or under its own indentation; shell commands in the
 * examples are left whole (copy-paste must work).
 */
export const HELP_WIDTH = 100;

const COMMAND = /^\s*(multidispatch|npx|eval|kafka-acls|[A-Z_]+=|export |cat |#)/;

function wrapLine(line: string, width: number): string[] {
  if (line.length <= width || COMMAND.test(line)) return [line];
  const indent = /^\s*/.exec(line)![0].length;
  const gap = /^(\s*\S.*?\s{2,})\S/.exec(line);
  const hang = gap && gap[1]!.length < width / 2 ? gap[1]!.length : indent + 2;
  const out: string[] = [];
  let rest = line;
  let first = true;
  while (rest.length > width) {
    const min = first ? indent + 1 : hang + 1;
    let cut = rest.lastIndexOf(' ', width);
    if (cut < min) cut = rest.indexOf(' ', width);
    if (cut < 0) break;
    out.push(rest.slice(0, cut).replace(/\s+$/, ''));
    rest = ' '.repeat(hang) + rest.slice(cut + 1).replace(/^\s+/, '');
    first = false;
  }
  out.push(rest);
  return out;
}

/** Wraps help text (what commander writes for --help and the texts added after it). */
export function wrapHelp(text: string, width = HELP_WIDTH): string {
  return text.split('\n').flatMap((l) => wrapLine(l, width)).join('\n');
}

/**
 * An option's help line: its description, then choices, the default as a plain value (`(default: proto)`, a number as a
 * number; `false` for a flag is left out) and the environment variable it reads.
 */
export function optionDescription(option: Option): string {
  const extra: string[] = [];
  if (option.argChoices) extra.push(`one of: ${option.argChoices.join(', ')}`);
  const d: unknown = option.defaultValue;
  if (d !== undefined && d !== false) {
    extra.push(`default: ${option.defaultValueDescription ?? (typeof d === 'string' ? d : JSON.stringify(d))}`);
  }
  if (option.envVar) extra.push(`env: ${option.envVar}`);
  return extra.length > 0 ? `${option.description} (${extra.join('; ')})` : option.description;
}
