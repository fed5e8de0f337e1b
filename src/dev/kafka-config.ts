/**
 * Files of a dev broker's data dir: server.properties, the log4j2 config, and state.json (what is running).
 *
 * Layout of `<dataDir>`: server.properties, log4j2.properties, kafka-logs/ (KRaft metadata + topic data),
 * broker.log (stdout/stderr of every start and of the storage format), state.json.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOOPBACK } from './net.js';

export interface KafkaState {
  version: string;
  /** Pid of the broker JVM (of the last start when `stoppedAt` is set). */
  pid: number;
  host: string;
  port: number;
  controllerPort: number;
  /** `host:port` for KAFKA_BROKERS. */
  brokers: string;
  dataDir: string;
  logFile: string;
  startedAt: string;
  stoppedAt?: string;
  /** Set for a `--secure` broker: the CA clients must trust and each user's client properties file. */
  secure?: { caFile: string; clientProperties: Record<string, string> };
}

export const files = (dataDir: string) => ({
  serverProperties: join(dataDir, 'server.properties'),
  log4j: join(dataDir, 'log4j2.properties'),
  logDir: join(dataDir, 'kafka-logs'),
  metaProperties: join(dataDir, 'kafka-logs', 'meta.properties'),
  logFile: join(dataDir, 'broker.log'),
  state: join(dataDir, 'state.json'),
});

/**
 * A single-node combined broker+controller. The quorum is static (controller.quorum.voters), so the
 * controller port may change between starts of the same data dir.
 */
export function serverProperties(dataDir: string, port: number, controllerPort: number, extra: Record<string, string> = {}): string {
  const f = files(dataDir);
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@${LOOPBACK}:${controllerPort}`,
    listeners: `PLAINTEXT://${LOOPBACK}:${port},CONTROLLER://${LOOPBACK}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${LOOPBACK}:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': f.logDir,
    'num.partitions': 1,
    'auto.create.topics.enable': false,
    'delete.topic.enable': true,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 5,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 5,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    'min.insync.replicas': 1,
    'num.network.threads': 2,
    'num.io.threads': 4,
    'log.retention.hours': 24,
    'log.segment.bytes': 64 * 1024 * 1024,
    ...extra,
  };
  const body = Object.entries(props).map(([k, v]) => `${k}=${String(v)}`).join('\n');
  return `# Written by multidispatch dev on every start; edits are overwritten.\n${body}\n`;
}

/** Broker logs go to stdout, which is appended to broker.log. INFO for Kafka, WARN for the noisiest parts. */
export function log4jProperties(): string {
  return [
    'status = warn',
    'appender.out.type = Console',
    'appender.out.name = OUT',
    'appender.out.layout.type = PatternLayout',
    'appender.out.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = info',
    'rootLogger.appenderRef.out.ref = OUT',
    'logger.config.name = org.apache.kafka.common.config.AbstractConfig',
    'logger.config.level = warn',
    'logger.utils.name = org.apache.kafka.common.utils.AppInfoParser',
    'logger.utils.level = warn',
    '',
  ].join('\n');
}

/** A Kafka cluster id: 16 random bytes, base64url without padding (what `kafka-storage random-uuid` prints). */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export function readState(dataDir: string): KafkaState | undefined {
  try {
    const s = JSON.parse(readFileSync(files(dataDir).state, 'utf8')) as Partial<KafkaState>;
    if (typeof s.pid !== 'number' || typeof s.port !== 'number' || typeof s.controllerPort !== 'number') return undefined;
    return s as KafkaState;
  } catch {
    return undefined;
  }
}

export function writeState(state: KafkaState): void {
  const path = files(state.dataDir).state;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}
