import { InvalidArgumentError, type Command } from 'commander';
import { kafkaStatus, KAFKA_VERSION, startKafka, stopKafka } from '../../dev/kafka.js';
import { defaultDevDir } from '../../dev/paths.js';
import { devStatsdStatus, startDevStatsd, stopDevStatsd, type DevStatsdState } from '../../dev/statsd-dev.js';
import { EXIT, EXIT_CODES_HELP, UsageError } from '../../errors.js';

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a TCP port number (1-65535)');
  return n;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

const err = (line: string) => void process.stderr.write(`${line}\n`);
const out = (line: string) => void process.stdout.write(`${line}\n`);
const DEV_ENV = `Environment: MULTIDISPATCH_DEV_DIR (the data dir), MULTIDISPATCH_KAFKA_VERSION, MULTIDISPATCH_KAFKA_HEAP
(default: 512m), MULTIDISPATCH_CACHE_DIR (where jars and statsd_exporter are cached), JAVA_HOME.`;
const dataDirHelp = 'data dir of the dev environment (default: $MULTIDISPATCH_DEV_DIR or ./.multidispatch/dev)';

/**
 * The brokers line `dev up` ends with. For --print-env it is an export: a plain assignment inside
 * eval "$(...)" sets a shell variable that child processes (node, npm test) never see.
 */
const envLine = (brokers: string, printEnv: boolean | undefined) => `${printEnv ? 'export ' : ''}KAFKA_BROKERS=${brokers}`;

/** For a secured broker: which user's client properties the shell should use (never the password itself). */
function secureLines(s: { secure?: { caFile: string; clientProperties: Record<string, string> } }, printEnv: boolean | undefined, user: string): string[] {
  if (!s.secure) return [];
  const file = s.secure.clientProperties[user] ?? Object.values(s.secure.clientProperties)[0]!;
  if (printEnv) return [`export MULTIDISPATCH_KAFKA_CONFIG=${file}`];
  return [
    'SASL_SSL with SCRAM-SHA-512, ACLs enforced (admin is the super user; other users need ACLs: docs/operations.md)',
    `CA certificate (ssl.ca.location): ${s.secure.caFile}`,
    ...Object.entries(s.secure.clientProperties).map(([u, f]) => `client properties for ${u}: ${f}`),
    `use them with: --kafka-config ${file}   (or export MULTIDISPATCH_KAFKA_CONFIG=${file})`,
  ];
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** The StatsD receiver's lines: its address for publishers (STATSD_HOST/STATSD_PORT) and where to see the counters. */
function statsdLines(s: DevStatsdState, printEnv: boolean | undefined): string[] {
  if (printEnv) return [`export STATSD_HOST=${s.host}`, `export STATSD_PORT=${s.port}`, `export STATSD_METRICS_URL=${s.metricsUrl}`];
  return [
    `StatsD receiver (statsd_exporter ${s.version}, pid ${s.pid}) on udp ${s.host}:${s.port}; counters at ${s.metricsUrl}`,
    `STATSD_HOST=${s.host}`,
    `STATSD_PORT=${s.port}`,
  ];
}

interface UpOptions { port?: number; controllerPort?: number; dataDir?: string; printEnv?: boolean; kafkaVersion?: string; timeout: number; secure?: boolean; user?: string[]; statsd?: boolean }

export function registerDev(program: Command): void {
  const dev = program
    .command('dev')
    .description('Run a local single-node Kafka (KRaft) for development: dev up, dev status, dev down.')
    .addHelpText('after', `
The broker's jars are resolved from Maven Central with mvn on first use and cached under
~/.cache/multidispatch/kafka-<version>/ (needs mvn and Java 17+). The broker runs in the background
until 'dev down'; its files (state.json, broker.log, kafka-logs/) live in the data dir.

Example:
  eval "$(multidispatch dev up --statsd --print-env)"   # exports KAFKA_BROKERS, STATSD_HOST, STATSD_PORT, STATSD_METRICS_URL
  multidispatch dev up --secure --user publisher --user loader --data-dir .multidispatch/secure
  multidispatch dev status
  multidispatch dev down`);

  dev
    .command('up')
    .description('Start the local Kafka broker (or report the one already running) and print KAFKA_BROKERS=host:port.')
    .option('--port <port>', 'broker port on 127.0.0.1 (default: the previous port of this data dir if free, else a free port)', parsePort)
    .option('--controller-port <port>', 'KRaft controller port on 127.0.0.1 (default: chosen like --port)', parsePort)
    .option('--data-dir <dir>', dataDirHelp)
    .option('--kafka-version <version>', `Kafka release to run (default: $MULTIDISPATCH_KAFKA_VERSION or ${KAFKA_VERSION})`)
    .option('--timeout <seconds>', 'how long to wait for the broker to answer once started', parseSeconds, 90)
    .option('--print-env', 'print only export KAFKA_BROKERS=host:port on stdout (progress stays on stderr), for eval "$(...)"')
    .option('--secure', 'a SASL_SSL listener (SCRAM-SHA-512 users, a self-signed CA made with keytool) with ACLs enforced; a data dir formatted secure stays secure')
    .option('--statsd', 'also start a StatsD receiver (statsd_exporter) on loopback and print STATSD_HOST/STATSD_PORT and its /metrics URL; publishers read those variables')
    .option('--user <name>', 'with --secure, on the first start: a SCRAM user to create besides admin (repeatable; default: app)', collect)
    .addHelpText('after', `
Progress goes to stderr; the last line on stdout is KAFKA_BROKERS=host:port, or with --print-env
export KAFKA_BROKERS=host:port, so that eval "$(multidispatch dev up --print-env)" passes it to the
programs the shell starts next.
When the broker could not start, the reason and the last lines of its log are printed (exit 8).

Examples:
  eval "$(multidispatch dev up --statsd --print-env)"
  multidispatch dev up --secure --user publisher --user loader --data-dir .multidispatch/secure

${DEV_ENV}

${EXIT_CODES_HELP}`)
    .action(async (opts: UpOptions) => {
      const dataDir = opts.dataDir ?? defaultDevDir();
      const st = kafkaStatus(dataDir);
      if (st.running && st.state) {
        const s = st.state;
        err(`Kafka ${s.version} is already running on ${s.brokers} (pid ${s.pid}, data dir ${s.dataDir})`);
        if (opts.port !== undefined && opts.port !== s.port) err(`note: --port ${opts.port} ignored; run 'multidispatch dev down' first to change it`);
        if (opts.secure && !s.secure) err("note: --secure ignored: the running broker is not secured; run 'multidispatch dev down' and use a new --data-dir");
        for (const l of secureLines(s, opts.printEnv, opts.user?.[0] ?? 'app')) (opts.printEnv ? out : err)(l);
        if (opts.statsd) for (const l of statsdLines(await startDevStatsd(dataDir, (m) => err(`multidispatch: ${m}`)), opts.printEnv)) out(l);
        out(envLine(s.brokers, opts.printEnv));
        return;
      }
      if (opts.user && !opts.secure) throw new UsageError('--user needs --secure');
      const kafka = await startKafka({
        dataDir,
        port: opts.port,
        controllerPort: opts.controllerPort,
        version: opts.kafkaVersion,
        timeoutMs: opts.timeout * 1000,
        onProgress: (msg) => err(`multidispatch: ${msg}`),
        ...(opts.secure ? { secure: { users: opts.user ?? ['app'] } } : {}),
      });
      if (!opts.printEnv) {
        out(`Kafka ${kafka.version} running on ${kafka.brokers} (pid ${kafka.pid}, data dir ${kafka.dataDir}, log ${kafka.logFile})`);
        out(`stop it with: multidispatch dev down${opts.dataDir ? ` --data-dir ${opts.dataDir}` : ''}`);
      }
      for (const l of secureLines(kafka, opts.printEnv, opts.user?.[0] ?? 'app')) out(l);
      if (opts.statsd) for (const l of statsdLines(await startDevStatsd(dataDir, (m) => err(`multidispatch: ${m}`)), opts.printEnv)) out(l);
      out(envLine(kafka.brokers, opts.printEnv));
    });

  dev
    .command('down')
    .description('Stop the local Kafka broker and the StatsD receiver (SIGTERM, then SIGKILL after --grace seconds). Safe to run when nothing runs.')
    .option('--data-dir <dir>', dataDirHelp)
    .option('--grace <seconds>', 'how long to wait for a clean shutdown before SIGKILL', parseSeconds, 30)
    .addHelpText('after', `\nExample:\n  multidispatch dev down --grace 10\n\n${DEV_ENV}\n\n${EXIT_CODES_HELP}`)
    .action(async (opts: { dataDir?: string; grace: number }) => {
      const dataDir = opts.dataDir ?? defaultDevDir();
      if (await stopDevStatsd(dataDir)) err('stopped the StatsD receiver');
      const res = await stopKafka(dataDir, { graceMs: opts.grace * 1000 });
      if (res.stopped && res.state) {
        err(`stopped Kafka ${res.state.version} on ${res.state.brokers} (pid ${res.state.pid}${res.killed ? ', had to SIGKILL' : ''})`);
      } else {
        err(`nothing was running in ${dataDir}`);
      }
    });

  dev
    .command('status')
    .description('Show whether the local Kafka broker is running, with its brokers address, pid, version and data dir.')
    .option('--data-dir <dir>', dataDirHelp)
    .option('--json', 'print the status as one JSON object')
    .addHelpText('after', `\nExits 0 when the broker runs, 7 (Kafka unreachable) when it does not.\n\nExample:\n  multidispatch dev status --json\n\n${DEV_ENV}\n\n${EXIT_CODES_HELP}`)
    .action((opts: { dataDir?: string; json?: boolean }) => {
      const st = kafkaStatus(opts.dataDir ?? defaultDevDir());
      const s = st.state;
      const sd = devStatsdStatus(st.dataDir);
      const statsd = sd.running && sd.state ? sd.state : undefined;
      if (opts.json) {
        out(JSON.stringify({ running: st.running, crashed: st.crashed, dataDir: st.dataDir, ...(s ? { brokers: s.brokers, pid: s.pid,
          version: s.version, port: s.port, controllerPort: s.controllerPort, logFile: s.logFile, startedAt: s.startedAt, secure: !!s.secure } : {}),
          ...(statsd ? { statsd: { host: statsd.host, port: statsd.port, metricsUrl: statsd.metricsUrl, pid: statsd.pid } } : {}) }));
      } else if (st.running && s) {
        out('running');
        out(`brokers:   ${s.brokers}`);
        out(`pid:       ${s.pid}`);
        out(`version:   ${s.version}`);
        out(`data dir:  ${st.dataDir}`);
        out(`log:       ${s.logFile}`);
        out(`started:   ${s.startedAt}`);
        if (s.secure) out(`security:  SASL_SSL (SCRAM-SHA-512), CA ${s.secure.caFile}`);
        out(statsd ? `statsd:    udp ${statsd.host}:${statsd.port}, ${statsd.metricsUrl} (pid ${statsd.pid})` : 'statsd:    not running (dev up --statsd starts it)');
      } else {
        out('not running');
        out(`data dir:  ${st.dataDir}`);
        if (st.crashed && s) out(`the broker started at ${s.startedAt} (pid ${s.pid}) is gone; see ${s.logFile}`);
      }
      if (!st.running) process.exitCode = EXIT.kafkaUnreachable;
    });
}
