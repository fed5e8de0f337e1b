/**
 * Where the dev tooling keeps things: downloaded tools live in a per-user cache shared by every checkout,
 * a running dev environment lives in a data dir under the current working directory.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Root of the tool cache: `$MULTIDISPATCH_CACHE_DIR`, else `$XDG_CACHE_HOME/multidispatch`,
 * else `~/.cache/multidispatch`. Kafka jars go to `kafka-<version>/`, the exporter to `statsd_exporter-<version>/`.
 */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MULTIDISPATCH_CACHE_DIR) return resolve(env.MULTIDISPATCH_CACHE_DIR);
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg ? resolve(xdg) : join(homedir(), '.cache'), 'multidispatch');
}

/** Data dir of `multidispatch dev`: `$MULTIDISPATCH_DEV_DIR`, else `.multidispatch/dev` under the cwd. */
export function defaultDevDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return env.MULTIDISPATCH_DEV_DIR ? resolve(cwd, env.MULTIDISPATCH_DEV_DIR) : resolve(cwd, '.multidispatch', 'dev');
}

export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}
