/**
 * Go tools used by the dev environment (statsd_exporter, gofakes3), built from the Go module proxy with
 * `GOBIN=<tmp> go install <module>@<version>` into the tool cache once per version, then moved into place.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DevEnvironmentError } from '../errors.js';
import { cacheRoot } from './paths.js';
import { commandExists, logTail, runTool } from './process.js';

export interface GoTool {
  /** The package path to `go install`, e.g. github.com/prometheus/statsd_exporter. */
  module: string;
  /** The binary `go install` produces. */
  binary: string;
  version: string;
  /** The Go version its go.mod asks for (for the error when go is missing). */
  goVersion: string;
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of the tool's binary in `<cache>/<binary>-<version>/`, building it first unless it is cached. */
export async function ensureGoTool(tool: GoTool, onProgress?: (msg: string) => void): Promise<string> {
  const { module, binary, version } = tool;
  const dir = join(cacheRoot(), `${binary}-${version}`);
  const bin = join(dir, binary);
  if (isExecutable(bin)) return bin;
  if (!commandExists('go')) {
    throw new DevEnvironmentError(`go was not found on PATH; it builds ${module}@${version} from the Go module proxy (install Go ${tool.goVersion} or newer)`);
  }
  mkdirSync(dir, { recursive: true });
  const gobin = mkdtempSync(join(dir, 'gobin-'));
  const log = join(dir, 'go-install.log');
  onProgress?.(`building ${module}@${version} with go install into ${dir} (first run only; log: ${log})`);
  const started = Date.now();
  try {
    const env = { ...process.env, GOBIN: gobin, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
    const code = await runTool('go', ['install', `${module}@${version}`], { logFile: log, env, cwd: dir, timeoutMs: 15 * 60_000 });
    if (code !== 0 || !isExecutable(join(gobin, binary))) {
      throw new DevEnvironmentError(`go install ${module}@${version} failed (exit ${code}); is the Go module proxy reachable?`, logTail(log));
    }
    renameSync(join(gobin, binary), bin);
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
  onProgress?.(`built ${binary} ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return bin;
}
