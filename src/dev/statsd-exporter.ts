/**
 * Prometheus' statsd_exporter as a local StatsD sink for development and tests: it receives StatsD/DogStatsD
 * lines over UDP and shows them on /metrics, DogStatsD tags (`name:1|c|#tag:value`) becoming labels (the
 * exporter parses DogStatsD tags by default; `--statsd.parse-dogstatsd-tags` is on unless negated).
 * Built from the Go module proxy with `go install` into the tool cache once per version.
 *
 * @example
 * const sx = await startStatsdExporter();
 * // send to sx.host:sx.port over UDP, read sx.metricsUrl
 * await sx.stop();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevEnvironmentError } from '../errors.js';
import { assertTcpPortFree, assertUdpPortFree, freeTcpPorts, freeUdpPort, LOOPBACK } from './net.js';
import { sleep } from './paths.js';
import { ensureGoTool } from './go-tool.js';
import { appendLog, isAlive, logTail, spawnDetached, stopProcess } from './process.js';

/** Pinned exporter release (its go.mod asks for Go 1.22; v0.31.0 also builds but needs Go 1.25). */
export const STATSD_EXPORTER_VERSION = 'v0.28.0';
const MODULE = 'github.com/prometheus/statsd_exporter';

export function statsdExporterVersion(version?: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = version ?? env.MULTIDISPATCH_STATSD_EXPORTER_VERSION ?? STATSD_EXPORTER_VERSION;
  if (!/^v\d+\.\d+\.\d+$/.test(v)) throw new DevEnvironmentError(`statsd_exporter version '${v}' is not of the form vX.Y.Z`);
  return v;
}

/** Path of the exporter binary, running `GOBIN=<cache> go install <module>@<version>` unless already cached. */
export async function ensureStatsdExporter(opts: { version?: string; onProgress?: (msg: string) => void } = {}): Promise<string> {
  return ensureGoTool({ module: MODULE, binary: 'statsd_exporter', version: statsdExporterVersion(opts.version), goVersion: '1.22' }, opts.onProgress);
}

export interface StartStatsdExporterOptions {
  /** UDP port for StatsD lines on 127.0.0.1 (default: a free one). */
  udpPort?: number;
  /** HTTP port of /metrics on 127.0.0.1 (default: a free one). */
  webPort?: number;
  version?: string;
  /** Where the exporter's output goes (default: a new file under the OS temp dir). */
  logFile?: string;
  onProgress?: (msg: string) => void;
  /** How long to wait for /metrics to answer (default 30 s). */
  timeoutMs?: number;
}

export interface StatsdExporterHandle {
  host: string;
  /** UDP port to send StatsD lines to. */
  port: number;
  webPort: number;
  metricsUrl: string;
  pid: number;
  logFile: string;
  version: string;
  stop(): Promise<void>;
}

/** Starts the exporter on loopback and waits until /metrics answers. */
export async function startStatsdExporter(opts: StartStatsdExporterOptions = {}): Promise<StatsdExporterHandle> {
  const version = statsdExporterVersion(opts.version);
  const bin = await ensureStatsdExporter({ version, onProgress: opts.onProgress });
  if (opts.udpPort !== undefined) await assertUdpPortFree(opts.udpPort, 'statsd_exporter');
  if (opts.webPort !== undefined) await assertTcpPortFree(opts.webPort, 'statsd_exporter web');
  const port = opts.udpPort ?? (await freeUdpPort());
  const webPort = opts.webPort ?? (await freeTcpPorts(1))[0]!;
  // A log dir we create ourselves is removed by stop(); after a failed start it stays for the post-mortem.
  const ownDir = opts.logFile ? undefined : mkdtempSync(join(tmpdir(), 'multidispatch-statsd-'));
  const logFile = opts.logFile ?? join(ownDir!, 'statsd_exporter.log');
  const metricsUrl = `http://${LOOPBACK}:${webPort}/metrics`;
  const args = [`--statsd.listen-udp=${LOOPBACK}:${port}`, '--statsd.listen-tcp=', `--web.listen-address=${LOOPBACK}:${webPort}`,
    '--log.level=info'];
  appendLog(logFile, `=== multidispatch: starting statsd_exporter ${version}: ${bin} ${args.join(' ')}`);
  opts.onProgress?.(`starting statsd_exporter ${version} (udp ${LOOPBACK}:${port}, ${metricsUrl})`);
  const child = spawnDetached(bin, args, logFile);
  let exited: string | undefined;
  child.once('error', (err) => (exited = err.message));
  child.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `exit code ${code}`));
  const pid = child.pid;
  if (pid === undefined) throw new DevEnvironmentError(`could not start ${bin}`, logTail(logFile));

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last = 'no answer yet';
  for (;;) {
    if (exited || !isAlive(pid)) {
      throw new DevEnvironmentError(`statsd_exporter exited during startup (${exited ?? 'process gone'}); log: ${logFile}`, logTail(logFile));
    }
    try {
      const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) {
        await res.text();
        break;
      }
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      await stopProcess(pid, 2_000).catch(() => undefined);
      throw new DevEnvironmentError(`statsd_exporter did not answer ${metricsUrl} in time (last error: ${last}); log: ${logFile}`, logTail(logFile));
    }
    await sleep(200);
  }
  const stop = async (): Promise<void> => {
    await stopProcess(pid, 5_000);
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  };
  return { host: LOOPBACK, port, webPort, metricsUrl, pid, logFile, version, stop };
}
