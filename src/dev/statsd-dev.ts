/**
 * The StatsD receiver `multidispatch dev up --statsd` runs beside the dev broker: statsd_exporter on loopback, recorded
 * in `<dataDir>/statsd.json` so that `dev status` shows it and `dev down` stops it. Its log is `<dataDir>/statsd.log`.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isOurProcess, stopProcess } from './process.js';
import { startStatsdExporter } from './statsd-exporter.js';

export interface DevStatsdState {
  pid: number;
  host: string;
  /** UDP port for StatsD lines. */
  port: number;
  webPort: number;
  metricsUrl: string;
  logFile: string;
  version: string;
  startedAt: string;
}

const stateFile = (dataDir: string) => join(resolve(dataDir), 'statsd.json');

export function readDevStatsd(dataDir: string): DevStatsdState | undefined {
  try {
    const s = JSON.parse(readFileSync(stateFile(dataDir), 'utf8')) as DevStatsdState;
    return typeof s.pid === 'number' ? s : undefined;
  } catch {
    return undefined;
  }
}

/** The receiver recorded for the data dir, when its process is still the exporter we started. */
export function devStatsdStatus(dataDir: string): { running: boolean; state?: DevStatsdState } {
  const state = readDevStatsd(dataDir);
  return { running: !!state && isOurProcess(state.pid, ['statsd_exporter', `--statsd.listen-udp=${state.host}:${state.port}`]), ...(state ? { state } : {}) };
}

/** Starts the receiver unless one already runs for the data dir; resolves with its state. */
export async function startDevStatsd(dataDir: string, onProgress?: (msg: string) => void): Promise<DevStatsdState & { alreadyRunning: boolean }> {
  const current = devStatsdStatus(dataDir);
  if (current.running && current.state) return { ...current.state, alreadyRunning: true };
  const h = await startStatsdExporter({ logFile: join(resolve(dataDir), 'statsd.log'), ...(onProgress ? { onProgress } : {}) });
  const state: DevStatsdState = { pid: h.pid, host: h.host, port: h.port, webPort: h.webPort, metricsUrl: h.metricsUrl, logFile: h.logFile, version: h.version, startedAt: new Date().toISOString() };
  const tmp = `${stateFile(dataDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, stateFile(dataDir));
  return { ...state, alreadyRunning: false };
}

/** Stops the recorded receiver; resolves false when none was running. */
export async function stopDevStatsd(dataDir: string): Promise<boolean> {
  const st = devStatsdStatus(dataDir);
  if (!st.running || !st.state) return false;
  await stopProcess(st.state.pid, 5_000);
  return true;
}

export const hasDevStatsd = (dataDir: string): boolean => existsSync(stateFile(dataDir));
