/**
 * A local single-node Kafka (KRaft, broker+controller in one JVM) for development and the test suite.
 * Jars come from Maven Central (see kafka-runtime.ts); the broker runs detached with `java` directly, so it
 * outlives the CLI invocation that started it. Its state is kept in `<dataDir>/state.json`.
 *
 * @example
 * const kafka = await startKafka({ dataDir: '.multidispatch/dev', onProgress: console.error });
 * process.env.KAFKA_BROKERS = kafka.brokers;
 * await kafka.stop();
 */
import { mkdirSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createKafkaClient, kafkaConnectionSchema, type KafkaConnectionOptions } from '../kafka/client.js';
import { DevEnvironmentError } from '../errors.js';
import { files, log4jProperties, randomClusterId, readState, serverProperties, writeState, type KafkaState } from './kafka-config.js';
import { ensureKafkaJars, findJava, kafkaVersion } from './kafka-runtime.js';
import { assertTcpPortFree, freeTcpPorts, isTcpPortFree, LOOPBACK } from './net.js';
import { sleep } from './paths.js';
import { ADMIN_USER, DEFAULT_SECURE_USERS, ensureSecureMaterial, readSecureMaterial, scramFormatArgs, secureServerProperties, writeClientFiles, type SecureMaterial } from './secure.js';
import { appendLog, isAlive, isOurProcess, logTail, runTool, spawnDetached, stopProcess } from './process.js';

export { KAFKA_VERSION, ensureKafkaJars, kafkaVersion } from './kafka-runtime.js';
export type { KafkaState } from './kafka-config.js';

export interface StartKafkaOptions {
  dataDir: string;
  /** Broker (PLAINTEXT) port on 127.0.0.1; default: the data dir's previous port if free, else a free one. */
  port?: number;
  /** Controller port on 127.0.0.1; chosen like `port`. */
  controllerPort?: number;
  /** Kafka release; default `$MULTIDISPATCH_KAFKA_VERSION` or KAFKA_VERSION. */
  version?: string;
  onProgress?: (msg: string) => void;
  /** How long to wait for the broker to answer metadata requests (default 90 s; Maven resolution not included). */
  timeoutMs?: number;
  /**
   * A SASL_SSL listener (SCRAM-SHA-512) with a self-signed CA and ACLs enforced, instead of PLAINTEXT. `users` are
   * created at format time besides `admin` (the super user); default ['app']. A data dir formatted secure stays secure.
   */
  secure?: boolean | { users?: readonly string[] };
}

export interface KafkaHandle {
  /** `host:port`, the value for KAFKA_BROKERS. */
  brokers: string;
  pid: number;
  port: number;
  controllerPort: number;
  version: string;
  dataDir: string;
  logFile: string;
  /** For a secured broker: the CA file and each user's client properties file (for --kafka-config). */
  secure?: { caFile: string; clientProperties: Record<string, string> };
  /** SIGTERM, wait, SIGKILL after `graceMs` (default 30 s). Stops whatever broker state.json names now. */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

export interface KafkaStatus {
  running: boolean;
  dataDir: string;
  stateFile: string;
  /** The last recorded start, if any (still recorded after a stop). */
  state?: KafkaState;
  /** state.json says running but the process is gone (it crashed or was killed). */
  crashed: boolean;
}

const isBroker = (s: KafkaState): boolean => isOurProcess(s.pid, ['kafka.Kafka', files(s.dataDir).serverProperties]);

/** Whether the broker recorded in `<dataDir>/state.json` is alive. */
export function kafkaStatus(dataDir: string): KafkaStatus {
  const dir = resolve(dataDir);
  const state = readState(dir);
  const running = state !== undefined && !state.stoppedAt && isBroker(state);
  return { running, dataDir: dir, stateFile: files(dir).state, state, crashed: !!state && !state.stoppedAt && !running };
}

function handleFor(s: KafkaState): KafkaHandle {
  const { brokers, pid, port, controllerPort, version, dataDir, logFile, secure } = s;
  return { brokers, pid, port, controllerPort, version, dataDir, logFile, ...(secure ? { secure } : {}), stop: async (o) => void (await stopKafka(dataDir, o)) };
}

async function pickPorts(opts: StartKafkaOptions, previous: KafkaState | undefined): Promise<[number, number]> {
  if (opts.port !== undefined) await assertTcpPortFree(opts.port, 'Kafka broker');
  if (opts.controllerPort !== undefined) await assertTcpPortFree(opts.controllerPort, 'Kafka controller');
  if (opts.port !== undefined && opts.port === opts.controllerPort) {
    throw new DevEnvironmentError(`the broker and controller ports must differ (both ${opts.port})`);
  }
  const taken = new Set([opts.port, opts.controllerPort]);
  const reuse = async (p: number | undefined) => (p !== undefined && !taken.has(p) && (await isTcpPortFree(p)) ? p : undefined);
  const port = opts.port ?? (await reuse(previous?.port)) ?? (await freeTcpPorts(3)).find((p) => !taken.has(p))!;
  taken.add(port);
  const controllerPort = opts.controllerPort ?? (await reuse(previous?.controllerPort)) ?? (await freeTcpPorts(3)).find((p) => !taken.has(p))!;
  return [port, controllerPort];
}

/** Starts a broker from `dataDir` (formatting its storage on first use) and waits until it answers metadata. */
export async function startKafka(opts: StartKafkaOptions): Promise<KafkaHandle> {
  const dataDir = resolve(opts.dataDir);
  const version = kafkaVersion(opts.version);
  const progress = opts.onProgress ?? (() => {});
  const f = files(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const previous = readState(dataDir);
  if (previous && !previous.stoppedAt && isBroker(previous)) {
    throw new DevEnvironmentError(`Kafka is already running from ${dataDir} (pid ${previous.pid}, brokers ${previous.brokers})`);
  }
  const java = findJava();
  const [port, controllerPort] = await pickPorts(opts, previous);
  const jars = await ensureKafkaJars({ version, onProgress: progress });
  const formatted = existsSync(f.metaProperties);
  let material: SecureMaterial | undefined = readSecureMaterial(dataDir);
  if (opts.secure || material) {
    const users = typeof opts.secure === 'object' && opts.secure.users ? opts.secure.users : material ? [] : DEFAULT_SECURE_USERS;
    if (!material) progress('making a self-signed CA and the broker certificate (keytool)');
    material = await ensureSecureMaterial(dataDir, java, users, formatted);
  }
  const extra = material ? secureServerProperties(material, LOOPBACK, port, controllerPort) : {};
  writeFileSync(f.serverProperties, serverProperties(dataDir, port, controllerPort, extra), { mode: 0o600 });
  writeFileSync(f.log4j, log4jProperties());
  const heap = process.env.MULTIDISPATCH_KAFKA_HEAP ?? '512m';
  const jvm = ['-Xms128m', `-Xmx${heap}`, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${f.log4j}`, '-cp', join(jars.libDir, '*')];

  if (!formatted) {
    progress(`formatting KRaft storage in ${f.logDir}${material ? ` with SCRAM-SHA-512 users ${Object.keys(material.users).join(', ')}` : ''}`);
    const formatLog = join(dataDir, 'format.log');
    const args = [...jvm, 'kafka.tools.StorageTool', 'format', '--cluster-id', randomClusterId(), '--config', f.serverProperties].map((a) => (a === `-Xmx${heap}` ? '-Xmx256m' : a));
    const scram = material ? scramFormatArgs(material) : [];
    const code = await runTool(java, [...args, ...scram], { logFile: formatLog, timeoutMs: 120_000, logArgs: [...args, ...scram.map((a) => a.replace(/password=[^\]]*/, 'password=[redacted]'))] });
    if (code !== 0) throw new DevEnvironmentError(`formatting Kafka storage failed (exit ${code}); log: ${formatLog}`, logTail(formatLog));
  }

  const brokers = `${LOOPBACK}:${port}`;
  appendLog(f.logFile, `\n=== multidispatch: starting Kafka ${version} on ${brokers} (controller ${controllerPort}) at ${new Date().toISOString()}`);
  progress(`starting Kafka ${version} on ${brokers} (log: ${f.logFile})`);
  const child = spawnDetached(java, [...jvm, 'kafka.Kafka', f.serverProperties], f.logFile);
  let exited: string | undefined;
  child.once('error', (err) => (exited = err.message));
  child.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `exit code ${code}`));
  if (child.pid === undefined) throw new DevEnvironmentError(`could not start ${java}`, logTail(f.logFile));
  const secure = material ? { caFile: material.caFile, clientProperties: writeClientFiles(material, brokers) } : undefined;
  const state: KafkaState = { version, pid: child.pid, host: LOOPBACK, port, controllerPort, brokers, dataDir, logFile: f.logFile,
    startedAt: new Date().toISOString(), ...(secure ? { secure } : {}) };
  writeState(state);

  const timeoutMs = opts.timeoutMs ?? 90_000;
  try {
    await waitForMetadata(brokers, port, Date.now() + timeoutMs, () => exited ?? (isAlive(state.pid) ? undefined : 'process gone'), adminAuth(material));
  } catch (err) {
    if (isAlive(state.pid)) await stopProcess(state.pid, 5_000).catch(() => undefined);
    writeState({ ...state, stoppedAt: new Date().toISOString() });
    const why = err instanceof Error ? err.message : String(err);
    throw new DevEnvironmentError(`Kafka ${version} did not start on ${brokers}: ${why}; log: ${f.logFile}`, logTail(f.logFile), { cause: err });
  }
  progress(`Kafka ${version} is up on ${brokers} (pid ${state.pid})`);
  return handleFor(state);
}

/** How the readiness check (and the tests' admin) connects to a secured broker: as the super user, trusting the dev CA. */
export function adminAuth(material: SecureMaterial | undefined): Pick<KafkaConnectionOptions, 'ssl' | 'sasl'> {
  if (!material) return {};
  return { ssl: { ca: readFileSync(material.caFile, 'utf8') }, sasl: { mechanism: 'scram-sha-512', username: ADMIN_USER, password: material.users[ADMIN_USER]! } };
}

async function waitForMetadata(brokers: string, port: number, deadline: number, exited: () => string | undefined, auth: Pick<KafkaConnectionOptions, 'ssl' | 'sasl'> = {}): Promise<void> {
  const started = Date.now();
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const why = exited();
    if (why) throw new Error(`the broker process exited during startup (${why})`);
    const kafka = createKafkaClient(kafkaConnectionSchema.parse({ clientId: 'multidispatch-dev', brokers: [brokers],
      connectionTimeoutMs: 1_000, requestTimeoutMs: 5_000, ...auth }));
    const admin = kafka.admin({ retries: 0 });
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.some((b) => b.port === port)) {
        await admin.listTopics();
        return;
      }
      last = 'the broker is not registered yet';
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await sleep(300);
  }
  throw new Error(`no metadata answer within ${Math.round((Date.now() - started) / 1000)} s (last error: ${last})`);
}

/** Stops the broker recorded in `<dataDir>/state.json`; resolves false when nothing was running (idempotent). */
export async function stopKafka(dataDir: string, opts: { graceMs?: number } = {}): Promise<{ stopped: boolean; killed: boolean; state?: KafkaState }> {
  const st = kafkaStatus(dataDir);
  if (!st.state) return { stopped: false, killed: false };
  if (!st.running) {
    if (st.crashed) writeState({ ...st.state, stoppedAt: new Date().toISOString() });
    return { stopped: false, killed: false, state: st.state };
  }
  const killed = await stopProcess(st.state.pid, opts.graceMs ?? 30_000);
  const state = { ...st.state, stoppedAt: new Date().toISOString() };
  writeState(state);
  return { stopped: true, killed, state };
}

/**
 * Stops the broker and starts it again on the same ports and data dir (topics and offsets survive), after
 * `downMs` of downtime. Works from any process: everything is read from state.json.
 */
export async function restartKafka(
  target: KafkaHandle | string,
  opts: { downMs?: number; graceMs?: number; timeoutMs?: number; onProgress?: (msg: string) => void } = {},
): Promise<KafkaHandle> {
  const dataDir = resolve(typeof target === 'string' ? target : target.dataDir);
  const state = readState(dataDir);
  if (!state) throw new DevEnvironmentError(`no Kafka was started from ${dataDir} (no state.json)`);
  await stopKafka(dataDir, { graceMs: opts.graceMs });
  if (opts.downMs) await sleep(opts.downMs);
  return startKafka({ dataDir, port: state.port, controllerPort: state.controllerPort, version: state.version,
    timeoutMs: opts.timeoutMs, onProgress: opts.onProgress });
}
