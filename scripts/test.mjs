#!/usr/bin/env node
// `npm test`: installs the dev tools if needed (Kafka jars via mvn, statsd_exporter via go), builds with
// `npm run build`, starts ONE Kafka broker and ONE statsd_exporter for the whole suite, runs node's test runner
// over test/**/*.test.ts except test/scale/ (or the files/dirs given: `npm test -- test/dev/kafka.test.ts`; the production-size
// runs: `npm test -- --test-timeout=900000 test/scale`), then stops the servers
// and exits with the runner's status. Arguments starting with '-' are passed to `node --test`.
//
// The tests get: KAFKA_BROKERS, STATSD_EXPORTER_HOST, STATSD_EXPORTER_PORT, STATSD_EXPORTER_METRICS_URL,
// MULTIDISPATCH_TEST_KAFKA_DATA_DIR and MULTIDISPATCH_TEST_KAFKA_STATE (the broker's state.json, rewritten when a
// fault test restarts the broker through test/support/kafka.ts), and MULTIDISPATCH_TEST_SECURE_KAFKA_DIR: the data dir
// of a second, secured broker (SASL_SSL, SCRAM-SHA-512 users publisher, loader, deriver, tailer, nobody; ACLs on).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const started = Date.now();
const secs = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const say = (msg) => process.stderr.write(`[test] ${msg}\n`);
const loud = (title, detail) => {
  const bar = '='.repeat(78);
  process.stderr.write(`\n${bar}\n[test] FAILED: ${title}\n${bar}\n${detail ? `${detail}\n${bar}\n` : ''}`);
};

const kafkaMod = await tsImport('../src/dev/kafka.ts', import.meta.url);
const fakesnowMod = await tsImport('../test/support/fakesnow.ts', import.meta.url);
const statsdMod = await tsImport('../src/dev/statsd-exporter.ts', import.meta.url);
const s3Mod = await tsImport('../src/dev/s3-server.ts', import.meta.url);

function testFiles(args) {
  const walk = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = join(dir, e.name);
      // test/scale holds the runs at production size (minutes each): only when named, `npm test -- test/scale`.
      if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'fixtures' || (dir === 'test' && e.name === 'scale') ? [] : walk(p);
      return e.isFile() && e.name.endsWith('.test.ts') ? [p] : [];
    });
  const targets = args.length > 0 ? args : ['test'];
  return targets
    .flatMap((t) => {
      if (!existsSync(t)) throw new Error(`no such test file or directory: ${t}`);
      return statSync(t).isDirectory() ? walk(t).sort() : [t];
    })
    .map((p) => relative(root, resolve(p)));
}

function describeError(err) {
  const message = err instanceof Error ? err.message : String(err);
  return err && typeof err === 'object' && typeof err.logTail === 'string' && err.logTail
    ? `${message}\n--- last lines of the log ---\n${err.logTail}`
    : message;
}

const args = process.argv.slice(2);
const nodeFlags = args.filter((a) => a.startsWith('-'));
let files;
try {
  files = testFiles(args.filter((a) => !a.startsWith('-')));
} catch (err) {
  loud('bad arguments', describeError(err));
  process.exit(2);
}
if (files.length === 0) {
  loud('no test files found under test/ (looked for *.test.ts)');
  process.exit(1);
}

// (a) dev tools
say(`ensuring dev tools: Kafka ${kafkaMod.kafkaVersion()} jars (mvn), statsd_exporter ${statsdMod.statsdExporterVersion()} and gofakes3 ${s3Mod.gofakes3Version()} (go install), fakesnow + pyarrow (pip)`);
let t0 = Date.now();
try {
  await Promise.all([
    kafkaMod.ensureKafkaJars({ onProgress: (m) => say(`kafka: ${m}`) }),
    statsdMod.ensureStatsdExporter({ onProgress: (m) => say(`statsd_exporter: ${m}`) }),
    // The S3-protocol server of the lake tests (each test file starts its own: they stop and restart it).
    s3Mod.ensureGofakes3({ onProgress: (m) => say(`gofakes3: ${m}`) }),
  ]);
  // fakesnow (PyPI) into its cached venv, for the Snowflake tests; synchronous, and a no-op when cached.
  say(`fakesnow ${fakesnowMod.FAKESNOW_VERSION}: ensuring the venv (pip)`);
  fakesnowMod.fakesnowPython();
} catch (err) {
  loud('could not install the dev tools', describeError(err));
  process.exit(1);
}
say(`dev tools ready in ${secs(t0)}`);

// (b) build (the CLI tests run bin/multidispatch.js, which imports dist/)
t0 = Date.now();
say('building: npm run build');
const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (build.status !== 0) {
  loud(`npm run build failed (exit ${build.status ?? build.signal})`);
  process.exit(1);
}
say(`build done in ${secs(t0)}`);

// (c) servers
const workDir = mkdtempSync(join(tmpdir(), 'multidispatch-test-'));
const kafkaDataDir = join(workDir, 'kafka');
// A second broker for the security tests: SASL_SSL, SCRAM-SHA-512, ACLs enforced (`multidispatch dev up --secure`).
const secureDataDir = join(workDir, 'kafka-secure');
const SECURE_USERS = ['publisher', 'loader', 'deriver', 'tailer', 'nobody'];
let statsd;
let kafkaStarted = false;
let secureStarted = false;
let cleaning;
async function cleanup() {
  cleaning ??= (async () => {
    if (kafkaStarted) {
      await kafkaMod.stopKafka(kafkaDataDir, { graceMs: 15_000 }).catch((err) => say(`stopping Kafka: ${describeError(err)}`));
    }
    if (secureStarted) {
      await kafkaMod.stopKafka(secureDataDir, { graceMs: 15_000 }).catch((err) => say(`stopping the secured Kafka: ${describeError(err)}`));
    }
    if (statsd) await statsd.stop().catch((err) => say(`stopping statsd_exporter: ${describeError(err)}`));
  })();
  return cleaning;
}
let child;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    say(`${sig}: stopping the test run and the servers`);
    child?.kill(sig);
    void cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });
}

t0 = Date.now();
say(`starting Kafka, a secured Kafka (SASL_SSL) and statsd_exporter (work dir ${workDir})`);
const results = await Promise.allSettled([
  kafkaMod.startKafka({ dataDir: kafkaDataDir, onProgress: (m) => say(`kafka: ${m}`) }).then((k) => ((kafkaStarted = true), k)),
  statsdMod.startStatsdExporter({ logFile: join(workDir, 'statsd_exporter.log'), onProgress: (m) => say(`statsd_exporter: ${m}`) }),
  kafkaMod.startKafka({ dataDir: secureDataDir, secure: { users: SECURE_USERS }, timeoutMs: 180_000, onProgress: (m) => say(`kafka (secure): ${m}`) }).then((k) => ((secureStarted = true), k)),
]);
if (results[1].status === 'fulfilled') statsd = results[1].value;
const failures = results.filter((r) => r.status === 'rejected');
if (failures.length > 0) {
  for (const f of failures) loud('a test server did not start', describeError(f.reason));
  await cleanup();
  say(`logs kept in ${workDir}`);
  process.exit(1);
}
const kafka = results[0].value;
const secureKafka = results[2].value;
say(`servers up in ${secs(t0)}: KAFKA_BROKERS=${kafka.brokers}, statsd udp ${statsd.host}:${statsd.port}, ${statsd.metricsUrl}, secured Kafka ${secureKafka.brokers}`);

// (d) tests
const env = {
  ...process.env,
  KAFKA_BROKERS: kafka.brokers,
  STATSD_EXPORTER_HOST: statsd.host,
  STATSD_EXPORTER_PORT: String(statsd.port),
  STATSD_EXPORTER_METRICS_URL: statsd.metricsUrl,
  MULTIDISPATCH_TEST_KAFKA_DATA_DIR: kafka.dataDir,
  MULTIDISPATCH_TEST_KAFKA_STATE: join(kafka.dataDir, 'state.json'),
  MULTIDISPATCH_TEST_SECURE_KAFKA_DIR: secureKafka.dataDir,
  KAFKAJS_NO_PARTITIONER_WARNING: '1',
  // bin/multidispatch.js would force an exit 1 s after a command ends; off here, so a handle a command leaves open fails its test.
  MULTIDISPATCH_NO_EXIT_GUARD: '1',
};
const hasTimeout = nodeFlags.some((f) => f.startsWith('--test-timeout'));
const runnerArgs = ['--import', 'tsx', '--test', '--test-concurrency=1', ...(hasTimeout ? [] : ['--test-timeout=300000']), ...nodeFlags, ...files];
const runTests = (args, extraEnv = {}) => new Promise((res) => {
  child = spawn(process.execPath, args, { stdio: 'inherit', env: { ...env, ...extraEnv } });
  child.once('exit', (c, signal) => res(c ?? (signal ? 1 : 0)));
  child.once('error', (err) => {
    loud('could not start the test runner', describeError(err));
    res(1);
  });
});
say(`running ${files.length} test file(s): node ${runnerArgs.join(' ')}`);
t0 = Date.now();
let code = await runTests(runnerArgs);
say(`tests finished in ${secs(t0)} with exit code ${code}`);

// (d′) the fault tests again on the other Kafka client of each path (the publisher defaults to platformatic, the
// loader and derive to kafkajs), with MULTIDISPATCH_KAFKA_CLIENT replacing the default. Only in a full run.
if (args.filter((a) => !a.startsWith('-')).length === 0) {
  const otherClient = [
    ['kafkajs', ['test/publisher/fault.test.ts']],
    ['platformatic', ['test/loader/faults.test.ts', 'test/derive/kill.test.ts']],
  ];
  for (const [client, faultFiles] of otherClient) {
    const t1 = Date.now();
    say(`fault tests on the other client: MULTIDISPATCH_KAFKA_CLIENT=${client} ${faultFiles.join(' ')}`);
    const c = await runTests(['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=300000', ...nodeFlags, ...faultFiles], { MULTIDISPATCH_KAFKA_CLIENT: client });
    say(`fault tests on ${client} finished in ${secs(t1)} with exit code ${c}`);
    if (c !== 0) code = c;
  }
}

// (e) teardown
await cleanup();
if (code === 0) rmSync(workDir, { recursive: true, force: true });
else say(`broker and exporter logs kept in ${workDir}`);
say(`total ${secs(started)}`);
process.exit(code);
