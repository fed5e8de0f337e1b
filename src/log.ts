/**
 * The library's logging and instrumentation seams. The library never picks a logging framework: it logs through
 * `Logger`, four methods taking a fields object and a message, which pino, bunyan and winston loggers (and
 * `console`) already satisfy. The CLI passes pino; a library user passes their own or gets `stderrLogger()`.
 *
 * Events that tools (APMs, tests, dashboards) want without parsing logs go through `node:diagnostics_channel`
 * on the channels in `CHANNELS`: subscribing costs nothing when nobody listens.
 *
 * @example
 * import pino from 'pino';
 * const loader = createLoader(options, { logger: pino() });
 *
 * @example
 * import diagnostics_channel from 'node:diagnostics_channel';
 * import { CHANNELS } from 'multidispatch';
 * diagnostics_channel.subscribe(CHANNELS.loaderBatch, (m) => console.log('committed', m));
 */
import diagnostics_channel from 'node:diagnostics_channel';

export type LogFn = (fields: object, message?: string) => void;

/** What the library logs through: pino-compatible (fields first, then the message). */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: 100 };

/**
 * A dependency-free logger writing one JSON line per entry to stderr (pino's field names: level, time, name, msg),
 * the library's default. Errors in `fields.err` are written as their message.
 */
export function stderrLogger(name: string, level: LogLevel = 'info'): Logger {
  const min = RANK[level];
  const at = (lvl: Exclude<LogLevel, 'silent'>): LogFn => {
    if (RANK[lvl] < min) return () => undefined;
    return (fields, message) => {
      const f = { ...(fields as Record<string, unknown>) };
      if (f.err instanceof Error) f.err = f.err.message;
      process.stderr.write(`${JSON.stringify({ level: RANK[lvl], time: Date.now(), name, ...f, ...(message !== undefined && { msg: message }) })}\n`);
    };
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** The diagnostics channels the library publishes on; each message is a plain object described here. */
export const CHANNELS = {
  /** The loader committed one warehouse transaction: `{ group, rows, records, deadLettered, reason }` (reason: size, time, end, stop). */
  loaderBatch: 'multidispatch:loader:batch',
  /** derive committed one task's transaction (outputs, changelog, offsets): `{ group, task, values, alerts, changelog, commitMs }`. */
  deriveCommit: 'multidispatch:derive:commit',
  /** The derive consumer's partitions were (re)assigned: `{ group, assignment }`. */
  deriveAssignment: 'multidispatch:derive:assignment',
} as const;

export const channels = {
  loaderBatch: diagnostics_channel.channel(CHANNELS.loaderBatch),
  deriveCommit: diagnostics_channel.channel(CHANNELS.deriveCommit),
  deriveAssignment: diagnostics_channel.channel(CHANNELS.deriveAssignment),
};
