/**
 * What the local Kafka broker runs on: a JDK found on the machine and the broker's jars, resolved from Maven
 * Central with `mvn` into the tool cache once per version (a second run does no Maven work).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevEnvironmentError } from '../errors.js';
import { cacheRoot } from './paths.js';
import { commandExists, logTail, quickOutput, runTool } from './process.js';

/** The Kafka release the dev broker and the test suite run by default (verified with kafkajs 2.2.4). */
export const KAFKA_VERSION = '4.1.1';
/** Pinned so a cold resolution always uses the same plugin. */
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
/** SLF4J 1.x binding to the log4j2 that Kafka 4.x already ships, so the broker logs through our config. */
const LOG4J_VERSION = '2.24.3';

/** `version` if given, else `$MULTIDISPATCH_KAFKA_VERSION`, else KAFKA_VERSION; must be a 4.x release number. */
export function kafkaVersion(version?: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = version ?? env.MULTIDISPATCH_KAFKA_VERSION ?? KAFKA_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(v)) throw new DevEnvironmentError(`Kafka version '${v}' is not of the form X.Y.Z`);
  if (Number(v.split('.')[0]) < 4) {
    throw new DevEnvironmentError(`Kafka ${v} is not supported by the dev broker: it runs Kafka 4.x in KRaft mode`);
  }
  return v;
}

/** The java binary ($JAVA_HOME/bin/java, else java on PATH); throws unless it is Java 17 or newer. */
export function findJava(): string {
  const home = process.env.JAVA_HOME;
  const java = home && existsSync(join(home, 'bin', 'java')) ? join(home, 'bin', 'java') : 'java';
  if (!commandExists(java)) {
    throw new DevEnvironmentError('java was not found (set JAVA_HOME or put java on PATH); the Kafka broker needs Java 17 or newer, e.g. `apt-get install openjdk-17-jre-headless`');
  }
  const out = quickOutput(java, ['-version']);
  const m = out?.match(/version "(\d+)(?:\.(\d+))?/);
  if (!m) throw new DevEnvironmentError(`could not read the version of ${java}:\n${out ?? '(no output)'}`);
  const major = m[1] === '1' ? Number(m[2]) : Number(m[1]);
  if (major < 17) throw new DevEnvironmentError(`Kafka 4.x needs Java 17 or newer; ${java} is Java ${major}`);
  return java;
}

export function pomXml(version: string): string {
  const dep = (g: string, a: string, v: string) =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by multidispatch: the runtime classpath of a single-node KRaft Kafka ${version} broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.multidispatch</groupId>
  <artifactId>dev-kafka</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
${dep('org.apache.kafka', 'kafka_2.13', version)}
${dep('org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION)}
  </dependencies>
</project>
`;
}

export interface KafkaJars {
  version: string;
  /** Directory holding every jar; the classpath is `<libDir>/*`. */
  libDir: string;
  jars: string[];
}

/**
 * Resolves Kafka's jars into `<cache>/kafka-<version>/libs` with `mvn dependency:copy-dependencies` unless a
 * previous run completed (marker file `complete.json` listing the jars, all still present).
 */
export async function ensureKafkaJars(opts: { version?: string; onProgress?: (msg: string) => void } = {}): Promise<KafkaJars> {
  const version = kafkaVersion(opts.version);
  const dir = join(cacheRoot(), `kafka-${version}`);
  const libDir = join(dir, 'libs');
  const marker = join(dir, 'complete.json');
  const cached = readMarker(marker, libDir);
  if (cached) return { version, libDir, jars: cached };

  if (!commandExists('mvn')) {
    throw new DevEnvironmentError('mvn was not found on PATH; it resolves the Kafka broker jars from Maven Central (e.g. `apt-get install maven`)');
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pom.xml'), pomXml(version));
  const tmp = join(dir, `libs.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const log = join(dir, 'mvn.log');
  opts.onProgress?.(`resolving Kafka ${version} jars from Maven Central into ${libDir} (first run only; log: ${log})`);
  const started = Date.now();
  const args = ['-B', '-q', '-Dstyle.color=never', '-f', join(dir, 'pom.xml'), `${DEPENDENCY_PLUGIN}:copy-dependencies`,
    `-DoutputDirectory=${tmp}`, '-DincludeScope=runtime'];
  const code = await runTool('mvn', args, { cwd: dir, logFile: log, timeoutMs: 15 * 60_000 });
  const jars = existsSync(tmp) ? readdirSync(tmp).filter((f) => f.endsWith('.jar')).sort() : [];
  if (code !== 0 || !jars.some((j) => j.startsWith(`kafka_2.13-${version}`))) {
    rmSync(tmp, { recursive: true, force: true });
    throw new DevEnvironmentError(
      `Maven could not resolve org.apache.kafka:kafka_2.13:${version} (mvn exit ${code}); is Maven Central reachable and does that version exist?`,
      logTail(log),
    );
  }
  rmSync(libDir, { recursive: true, force: true });
  renameSync(tmp, libDir);
  writeFileSync(marker, `${JSON.stringify({ version, jars, resolvedAt: new Date().toISOString() }, null, 2)}\n`);
  opts.onProgress?.(`resolved ${jars.length} jars for Kafka ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { version, libDir, jars };
}

function readMarker(marker: string, libDir: string): string[] | undefined {
  try {
    const { jars } = JSON.parse(readFileSync(marker, 'utf8')) as { jars?: unknown };
    if (!Array.isArray(jars) || jars.length === 0) return undefined;
    const list = jars.filter((j): j is string => typeof j === 'string');
    return list.every((j) => existsSync(join(libDir, j))) ? list : undefined;
  } catch {
    return undefined;
  }
}
