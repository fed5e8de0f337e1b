import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseOptions } from '../../config/parse.js';
import { OptionsError } from '../../errors.js';

/** Snowflake identifiers given by the user (database, schema, role, warehouse): letters, digits, _ and $. */
const sfName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,254}$/, 'must be a Snowflake identifier: letters, digits, _ and $, starting with a letter or _');
const positiveInt = z.number().int().positive();

export const snowflakeOptionsSchema = z
  .object({
    /** Account identifier, e.g. `myorg-myaccount` (or a locator such as `xy12345.eu-central-1`). */
    account: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'must be an account identifier such as myorg-myaccount'),
    username: z.string().min(1),
    role: sfName.optional(),
    warehouse: sfName.optional(),
    database: sfName,
    /** Created when missing (CREATE SCHEMA IF NOT EXISTS): the loader's tables and views live here. */
    schema: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,254}$/, 'must be letters, digits and _, starting with a letter or _ (it is used upper-cased)'),
    /** 'SNOWFLAKE': password; 'SNOWFLAKE_JWT': key-pair authentication (privateKey or privateKeyPath). */
    authenticator: z.enum(['SNOWFLAKE', 'SNOWFLAKE_JWT']).default('SNOWFLAKE'),
    password: z.string().min(1).optional(),
    /** PEM text of the private key (PKCS#8, `-----BEGIN PRIVATE KEY-----` or `-----BEGIN ENCRYPTED PRIVATE KEY-----`). */
    privateKey: z.string().min(1).optional(),
    privateKeyPath: z.string().min(1).optional(),
    privateKeyPassphrase: z.string().min(1).optional(),
    /**
     * Full URL of the Snowflake endpoint, e.g. `http://127.0.0.1:8080` for a local fakesnow server. Default:
     * `https://<account>.snowflakecomputing.com`.
     */
    accessUrl: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL')
      .optional(),
    /** How long one connection attempt (login) may take before the warehouse counts as unavailable. */
    loginTimeoutMs: positiveInt.max(600_000).default(30_000),
    /**
     * Client-side deadline of one statement, including the driver's own HTTP retries. When it passes, the
     * statement is abandoned, the connection is dropped (an open transaction rolls back with the session)
     * and the call fails with WarehouseUnavailableError.
     */
    statementTimeoutMs: positiveInt.max(3_600_000).default(120_000),
    /** Rows per INSERT statement (`INSERT ... SELECT PARSE_JSON(COLUMN1), ... FROM VALUES (?, ?), ...`). */
    insertChunkRows: positiveInt.max(16_384).default(1_000),
    /** Bytes of row JSON per INSERT statement; a chunk ends at whichever limit comes first. */
    insertChunkBytes: positiveInt.max(64 * 1024 * 1024).default(8 * 1024 * 1024),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.authenticator === 'SNOWFLAKE') {
      if (!o.password) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['password'], message: "is required with authenticator 'SNOWFLAKE'" });
      if (o.privateKey || o.privateKeyPath)
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['authenticator'], message: "must be 'SNOWFLAKE_JWT' when a private key is given" });
    } else {
      if (!o.privateKey && !o.privateKeyPath)
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['privateKey'], message: "privateKey or privateKeyPath is required with authenticator 'SNOWFLAKE_JWT'" });
      if (o.privateKey && o.privateKeyPath)
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['privateKeyPath'], message: 'give privateKey or privateKeyPath, not both' });
      if (o.privateKey && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(o.privateKey))
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['privateKey'], message: 'must be PEM text (-----BEGIN PRIVATE KEY-----)' });
    }
  });

export type SnowflakeOptionsInput = z.input<typeof snowflakeOptionsSchema>;
export type SnowflakeOptions = z.output<typeof snowflakeOptionsSchema>;

/** Validates and applies defaults; errors name the option (`snowflake.password`), never its value. */
export function parseSnowflakeOptions(input: unknown, root = 'snowflake'): SnowflakeOptions {
  return parseOptions(snowflakeOptionsSchema, input, root);
}

/** Environment variables read by `snowflakeOptionsFromEnv`, in the order documented. */
export const SNOWFLAKE_ENV = [
  'SNOWFLAKE_ACCOUNT',
  'SNOWFLAKE_USER',
  'SNOWFLAKE_ROLE',
  'SNOWFLAKE_WAREHOUSE',
  'SNOWFLAKE_DATABASE',
  'SNOWFLAKE_SCHEMA',
  'SNOWFLAKE_PASSWORD',
  'SNOWFLAKE_PRIVATE_KEY_PATH',
  'SNOWFLAKE_PRIVATE_KEY',
  'SNOWFLAKE_PRIVATE_KEY_PASSPHRASE',
  'SNOWFLAKE_ACCESS_URL',
] as const;

/**
 * Options from SNOWFLAKE_* variables. A private key (SNOWFLAKE_PRIVATE_KEY or _PATH) selects key-pair
 * authentication, otherwise SNOWFLAKE_PASSWORD is used. `overrides` win over the environment (e.g. a
 * per-run schema). Errors name the variable's option path, never its value.
 */
export function snowflakeOptionsFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<SnowflakeOptionsInput> = {}): SnowflakeOptions {
  const v = (name: (typeof SNOWFLAKE_ENV)[number]) => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const privateKey = v('SNOWFLAKE_PRIVATE_KEY')?.replace(/\\n/g, '\n');
  const privateKeyPath = v('SNOWFLAKE_PRIVATE_KEY_PATH');
  const input: Record<string, unknown> = {
    account: v('SNOWFLAKE_ACCOUNT'),
    username: v('SNOWFLAKE_USER'),
    role: v('SNOWFLAKE_ROLE'),
    warehouse: v('SNOWFLAKE_WAREHOUSE'),
    database: v('SNOWFLAKE_DATABASE'),
    schema: v('SNOWFLAKE_SCHEMA'),
    authenticator: privateKey || privateKeyPath ? 'SNOWFLAKE_JWT' : 'SNOWFLAKE',
    password: privateKey || privateKeyPath ? undefined : v('SNOWFLAKE_PASSWORD'),
    privateKey,
    privateKeyPath,
    privateKeyPassphrase: v('SNOWFLAKE_PRIVATE_KEY_PASSPHRASE'),
    accessUrl: v('SNOWFLAKE_ACCESS_URL'),
    ...overrides,
  };
  for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
  return parseSnowflakeOptions(input, 'snowflake');
}

/** True when the variables needed for a real account are set (account, user, database, and a credential). */
export function hasSnowflakeEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!(env.SNOWFLAKE_ACCOUNT && env.SNOWFLAKE_USER && env.SNOWFLAKE_DATABASE && (env.SNOWFLAKE_PASSWORD || env.SNOWFLAKE_PRIVATE_KEY || env.SNOWFLAKE_PRIVATE_KEY_PATH));
}

/** The PEM text of the private key (read from privateKeyPath when given). Errors never contain the key. */
export function loadPrivateKey(o: SnowflakeOptions): string | undefined {
  if (o.privateKey) return o.privateKey;
  if (!o.privateKeyPath) return undefined;
  try {
    return readFileSync(o.privateKeyPath, 'utf8');
  } catch (err) {
    throw new OptionsError('snowflake.privateKeyPath', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
