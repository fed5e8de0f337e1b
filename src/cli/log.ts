/**
 * The CLI's logger: pino, written to stderr as JSON lines (for log collectors, and whenever stderr is not a terminal)
 * or as short human lines on a terminal: `12:03:04 INFO  loader started  topics=orders.v1 group=analytics`.
 * A progress line drawn with `\r` on the same terminal is cleared before a log line is written, so the two never mix.
 */
import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';
import { UsageError } from '../errors.js';

export type LogFormat = 'auto' | 'pretty' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'pretty', 'json'];
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '\x1b[90m', 20: '\x1b[90m', 30: '\x1b[36m', 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

/** Whether a progress line is on screen (drawn with \r and no newline), so a log line must clear it first. */
let progressShown = false;

/** Draws a progress line in place (terminal only); the next log line or `endProgress` clears it. */
export function drawProgress(line: string): void {
  process.stderr.write(`\r\x1b[K${line}`);
  progressShown = true;
}

/** Clears the progress line (before a summary is printed), so it is not left on screen or redrawn after it. */
export function endProgress(): void {
  if (progressShown) process.stderr.write('\r\x1b[K');
  progressShown = false;
}

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s="]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** One pino JSON line → one human line. Exported for tests. */
export function prettyLine(json: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = Number(rec.level);
  const time = new Date(Number(rec.time)).toISOString().slice(11, 19);
  const name = (LEVEL_NAMES[level] ?? String(rec.level)).padEnd(5);
  const fields = Object.entries(rec).filter(([k]) => !OMIT.has(k)).map(([k, v]) => `${k}=${value(v)}`).join(' ');
  const lvl = color ? `${COLORS[level] ?? ''}${name}\x1b[0m` : name;
  return `${time} ${lvl} ${String(rec.msg ?? '')}${fields ? `  ${fields}` : ''}\n`;
}

export function parseLogFormat(v: string | undefined): LogFormat {
  const f = (v ?? 'auto') as LogFormat;
  if (!LOG_FORMATS.includes(f)) throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, got '${v}'`);
  return f;
}

export function parseLogLevel(v: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${v}'`);
  return v;
}

/** The logger of a command: JSON unless `format` is pretty, or auto and stderr is a terminal. */
export function cliLogger(name: string, level: string, format: LogFormat = 'auto'): Logger {
  const tty = process.stderr.isTTY === true;
  const pretty = format === 'pretty' || (format === 'auto' && tty);
  if (!pretty) return pino({ name, level: parseLogLevel(level) }, pino.destination({ fd: 2, sync: true }));
  const color = tty && !process.env.NO_COLOR;
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const lines = chunk.toString('utf8').split('\n').filter(Boolean);
      let out = '';
      for (const l of lines) out += prettyLine(l, color);
      if (progressShown) {
        out = `\r\x1b[K${out}`;
        progressShown = false;
      }
      process.stderr.write(out);
      cb();
    },
  });
  return pino({ name, level: parseLogLevel(level) }, stream);
}
