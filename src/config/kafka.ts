/**
 * Kafka client settings by the names users know from librdkafka and kcat (`security.protocol`, `sasl.username`,
 * `ssl.ca.location`, …), from four places merged in this order (first wins):
 *
 *   1. overrides: `-X name=value` (and `--brokers`)
 *   2. the environment: `KAFKA_<NAME>` with dots as underscores (`KAFKA_SASL_PASSWORD`), plus `KAFKA_BROKERS`
 *   3. a properties file: `--kafka-config client.properties`
 *   4. the `kafka` object of a `--config` JSON file
 *
 * and turned into the connection options every Kafka user in the package takes. Secret values (passwords, private
 * keys, client secrets) are registered with the redactor and never appear in an error message.
 *
 * @example
 * const kafka = resolveKafkaConfig({ file: 'client.properties', overrides: ['client.id=billing'] });
 * const publisher = createPublisher({ schema, producer: 'billing', kafka });
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { OptionsError, UsageError } from '../errors.js';
import type { KafkaConnectionOptions } from '../kafka/client.js';
import { KAFKA_CLIENTS, type KafkaClientName } from '../kafka/port.js';
import { registerSecret } from './secrets.js';

interface PropertySpec {
  secret?: boolean;
  help: string;
}

/** Every property the resolver understands. Unknown names are errors, so a typo cannot silently do nothing. */
export const KAFKA_PROPERTIES: Readonly<Record<string, PropertySpec>> = {
  'bootstrap.servers': { help: 'comma-separated host:port of the brokers (also KAFKA_BROKERS, --brokers)' },
  'client.id': { help: 'client id the brokers log and quota by (default: multidispatch-<command>)' },
  'security.protocol': { help: 'PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL' },
  'sasl.mechanisms': { help: 'PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (sasl.mechanism is accepted too)' },
  'sasl.username': { help: 'SASL user name (PLAIN, SCRAM)' },
  'sasl.password': { secret: true, help: 'SASL password (PLAIN, SCRAM)' },
  'sasl.jaas.config': { secret: true, help: "Java clients' form: ...LoginModule required username=\"u\" password=\"p\";" },
  'sasl.oauthbearer.method': { help: 'OAUTHBEARER: oidc (client credentials against sasl.oauthbearer.token.endpoint.url)' },
  'sasl.oauthbearer.client.id': { help: 'OAUTHBEARER oidc: client id' },
  'sasl.oauthbearer.client.secret': { secret: true, help: 'OAUTHBEARER oidc: client secret' },
  'sasl.oauthbearer.token.endpoint.url': { help: 'OAUTHBEARER oidc: token endpoint (https://…/token)' },
  'sasl.oauthbearer.scope': { help: 'OAUTHBEARER oidc: scope to ask for (optional)' },
  'ssl.ca.location': { help: 'PEM file of the CA(s) that signed the brokers\' certificates (default: the system CAs)' },
  'ssl.ca.pem': { help: 'the same CA certificate(s) inline, as PEM text' },
  'ssl.certificate.location': { help: 'PEM file of the client certificate (mutual TLS)' },
  'ssl.certificate.pem': { help: 'the client certificate inline, as PEM text' },
  'ssl.key.location': { help: 'PEM file of the client private key (mutual TLS)' },
  'ssl.key.pem': { secret: true, help: 'the client private key inline, as PEM text' },
  'ssl.key.password': { secret: true, help: 'passphrase of the client private key' },
  'enable.ssl.certificate.verification': { help: 'false skips verifying the brokers\' certificates (never in production; default true)' },
  'ssl.endpoint.identification.algorithm': { help: 'https (default): the certificate must name the broker host; none: do not check the name' },
  'socket.connection.setup.timeout.ms': { help: 'how long a connection attempt may take (default: 3000)' },
  'request.timeout.ms': { help: 'how long a request may wait for its answer (default: 30000)' },
  client: { help: `the Kafka client library: ${KAFKA_CLIENTS.join(' or ')} (default: chosen per command)` },
};

/** Names accepted as another spelling of a known property. */
const ALIASES: Readonly<Record<string, string>> = {
  'sasl.mechanism': 'sasl.mechanisms',
  'metadata.broker.list': 'bootstrap.servers',
};

/** Settings of Java/librdkafka client files that do not change how this package connects; accepted and ignored. */
const IGNORED = new Set(['client.dns.lookup', 'session.timeout.ms', 'acks', 'api.version.request', 'broker.version.fallback']);

export type KafkaProperties = Record<string, string>;

export interface KafkaConfigSources {
  /** `name=value` items (the CLI's repeated `-X`); first in precedence. */
  overrides?: readonly string[];
  /** The `--brokers` flag (a comma-separated list); the same as `-X bootstrap.servers=…`. */
  brokers?: string;
  /** Environment to read `KAFKA_*` from (default: process.env). Pass `{}` to ignore the environment. */
  env?: NodeJS.ProcessEnv;
  /** Path of a properties file (`--kafka-config`). */
  file?: string;
  /** Properties from a JSON config file's `kafka` object; `where` names that file in errors. */
  config?: { properties: Record<string, unknown>; where: string };
  /** client.id when none is given. */
  clientId?: string;
  /** Brokers to use when no source names any (the CLI passes the `dev up` broker). */
  fallbackBrokers?: () => string | undefined;
}

function canonical(name: string, where: string): string | undefined {
  const n = ALIASES[name] ?? name;
  if (KAFKA_PROPERTIES[n]) return n;
  if (IGNORED.has(n)) return undefined;
  if (/^ssl\.(truststore|keystore)\./.test(n)) {
    throw new OptionsError(`${where}: ${name}`, 'Java keystores are not read here; give PEM files with ssl.ca.location, ssl.certificate.location and ssl.key.location');
  }
  const near = Object.keys(KAFKA_PROPERTIES).find((k) => distance(k, n) <= 2 || k.endsWith(`.${n}`));
  throw new OptionsError(`${where}: ${name}`, `is not a known Kafka client property${near ? ` (did you mean '${near}'?)` : ''}; the list is in --help`);
}

/** Levenshtein distance, for the "did you mean" of a misspelt property. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function put(out: KafkaProperties, name: string, value: string, where: string): void {
  const n = canonical(name.trim(), where);
  if (n === undefined) return;
  if (KAFKA_PROPERTIES[n]!.secret && value) registerSecret(value);
  if (n === 'client' && value.trim() !== '' && !(KAFKA_CLIENTS as readonly string[]).includes(value.trim().toLowerCase())) {
    throw new OptionsError(`${where}: client`, `must be ${KAFKA_CLIENTS.join(' or ')}, got '${value}'`);
  }
  out[n] = value;
}

/** Reads a Java-style properties file: `name=value` or `name: value`, `#`/`!` comments, `\` line continuations. */
export function readKafkaProperties(path: string): KafkaProperties {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--kafka-config ${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseKafkaProperties(text, path);
}

export function parseKafkaProperties(text: string, where: string): KafkaProperties {
  const out: KafkaProperties = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!.replace(/^\s+/, '');
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.replace(/^\s+/, '');
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (!m) throw new OptionsError(`${where}:${lineNo}`, 'expected name=value');
    put(out, m[1]!, m[2]!.replace(/\s+$/, ''), `${where}:${lineNo}`);
  }
  return out;
}

/** `KAFKA_SASL_PASSWORD` → `sasl.password`; only names of known properties are taken (KAFKA_HEAP_OPTS is not ours). */
export function kafkaPropertiesFromEnv(env: NodeJS.ProcessEnv): KafkaProperties {
  const out: KafkaProperties = {};
  const byEnv = new Map<string, string>();
  for (const n of [...Object.keys(KAFKA_PROPERTIES), ...Object.keys(ALIASES)]) byEnv.set(`KAFKA_${n.toUpperCase().replace(/\./g, '_')}`, n);
  byEnv.set('KAFKA_BROKERS', 'bootstrap.servers');
  for (const [key, value] of Object.entries(env)) {
    const n = byEnv.get(key);
    if (n === undefined || value === undefined || value === '') continue;
    // KAFKA_BOOTSTRAP_SERVERS wins over KAFKA_BROKERS when both are set.
    if (key === 'KAFKA_BROKERS' && env.KAFKA_BOOTSTRAP_SERVERS) continue;
    put(out, n, value, `environment ${key}`);
  }
  return out;
}

/** Parses one `-X name=value`. */
export function parseOverride(item: string): [string, string] {
  const i = item.indexOf('=');
  if (i <= 0) throw new UsageError(`-X takes name=value (a Kafka client property such as security.protocol=SASL_SSL), got '${item.includes('=') ? item.slice(0, i + 1) : item}'`);
  return [item.slice(0, i).trim(), item.slice(i + 1)];
}

/**
 * Merges the sources (overrides > environment > properties file > config object) and builds the connection
 * options. Throws an OptionsError naming the property and where it came from for anything it cannot use.
 */
export function resolveKafkaConfig(sources: KafkaConfigSources = {}): KafkaConnectionOptions {
  const layers: KafkaProperties[] = [];
  if (sources.config) {
    const layer: KafkaProperties = {};
    for (const [k, v] of Object.entries(sources.config.properties)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw new OptionsError(`${sources.config.where}: kafka.${k}`, 'must be a string, number or boolean');
      }
      put(layer, k, String(v), `${sources.config.where}: kafka`);
    }
    layers.push(layer);
  }
  if (sources.file) layers.push(readKafkaProperties(sources.file));
  layers.push(kafkaPropertiesFromEnv(sources.env ?? process.env));
  const over: KafkaProperties = {};
  for (const item of sources.overrides ?? []) {
    const [k, v] = parseOverride(item);
    put(over, k, v, '-X');
  }
  if (sources.brokers !== undefined) over['bootstrap.servers'] = sources.brokers;
  layers.push(over);
  const props: KafkaProperties = Object.assign({}, ...layers);
  if (!props['bootstrap.servers']) {
    const fb = sources.fallbackBrokers?.();
    if (fb) props['bootstrap.servers'] = fb;
  }
  return connectionFromProperties(props, sources.clientId);
}

function readPem(props: KafkaProperties, location: string, inline: string, secret = false): string | undefined {
  if (props[inline]) return props[inline];
  const path = props[location];
  if (!path) return undefined;
  try {
    const text = readFileSync(path, 'utf8');
    if (secret) registerSecret(text.trim());
    return text;
  } catch (err) {
    throw new OptionsError(location, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function bool(props: KafkaProperties, name: string, dflt: boolean): boolean {
  const v = props[name];
  if (v === undefined || v === '') return dflt;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new OptionsError(name, `must be true or false, got '${v}'`);
}

function positiveInt(props: KafkaProperties, name: string): number | undefined {
  const v = props[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new OptionsError(name, `must be a positive integer (milliseconds), got '${v}'`);
  return n;
}

/** `org.apache.kafka…LoginModule required username="u" password="p";` → user and password. */
function fromJaas(jaas: string): { username?: string; password?: string } {
  const field = (name: string) => new RegExp(`\\b${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|'((?:[^'\\\\]|\\\\.)*)')`).exec(jaas);
  const u = field('username');
  const p = field('password');
  const out: { username?: string; password?: string } = {};
  if (u) out.username = u[1] ?? u[2];
  if (p) out.password = p[1] ?? p[2];
  if (out.password) registerSecret(out.password);
  return out;
}

const MECHANISMS = { PLAIN: 'plain', 'SCRAM-SHA-256': 'scram-sha-256', 'SCRAM-SHA-512': 'scram-sha-512', OAUTHBEARER: 'oauthbearer' } as const;

/** Builds the connection options from merged properties (exported for the library: the same names as the CLI). */
export function connectionFromProperties(props: KafkaProperties, clientId = 'multidispatch'): KafkaConnectionOptions {
  const servers = props['bootstrap.servers'];
  if (!servers) {
    throw new UsageError('no Kafka brokers: pass --brokers host:port, set KAFKA_BROKERS, give bootstrap.servers in --kafka-config, or start a local broker with `multidispatch dev up`');
  }
  const brokers = servers.split(',').map((s) => s.trim()).filter(Boolean);
  for (const b of brokers) if (!/^[^\s:]+:\d{1,5}$/.test(b)) throw new OptionsError('bootstrap.servers', `'${b}' must be host:port`);
  const protocol = (props['security.protocol'] ?? 'PLAINTEXT').toUpperCase();
  if (!['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].includes(protocol)) {
    throw new OptionsError('security.protocol', `must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got '${props['security.protocol']}'`);
  }
  const tls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const sasl = protocol.startsWith('SASL_');
  const conn: KafkaConnectionOptions = { brokers, clientId: props['client.id'] || clientId };
  const connectTimeout = positiveInt(props, 'socket.connection.setup.timeout.ms');
  const requestTimeout = positiveInt(props, 'request.timeout.ms');
  if (connectTimeout !== undefined) conn.connectionTimeoutMs = connectTimeout;
  if (requestTimeout !== undefined) conn.requestTimeoutMs = requestTimeout;
  const client = props.client?.trim().toLowerCase();
  if (client) {
    if (!(KAFKA_CLIENTS as readonly string[]).includes(client)) throw new OptionsError('client', `must be ${KAFKA_CLIENTS.join(' or ')}, got '${props.client}'`);
    conn.client = client as KafkaClientName;
  }

  const sslKeys = Object.keys(props).filter((k) => k.startsWith('ssl.') || k === 'enable.ssl.certificate.verification');
  if (!tls && sslKeys.length > 0) {
    throw new OptionsError(sslKeys[0]!, `is set but security.protocol is ${protocol}; use SSL or SASL_SSL for a TLS connection`);
  }
  if (tls) {
    const opts: ConnectionOptions = {};
    const ca = readPem(props, 'ssl.ca.location', 'ssl.ca.pem');
    const cert = readPem(props, 'ssl.certificate.location', 'ssl.certificate.pem');
    const key = readPem(props, 'ssl.key.location', 'ssl.key.pem', true);
    if (ca) opts.ca = ca;
    if (cert) opts.cert = cert;
    if (key) opts.key = key;
    if (props['ssl.key.password']) opts.passphrase = props['ssl.key.password'];
    if ((cert === undefined) !== (key === undefined)) {
      throw new OptionsError(cert ? 'ssl.key.location' : 'ssl.certificate.location', 'mutual TLS needs both the client certificate and its key');
    }
    opts.rejectUnauthorized = bool(props, 'enable.ssl.certificate.verification', true);
    const algo = (props['ssl.endpoint.identification.algorithm'] ?? 'https').toLowerCase();
    if (algo !== 'https' && algo !== 'none') throw new OptionsError('ssl.endpoint.identification.algorithm', `must be https or none, got '${algo}'`);
    if (algo === 'none') opts.checkServerIdentity = () => undefined;
    conn.ssl = Object.keys(opts).length === 1 && opts.rejectUnauthorized ? true : (opts as Record<string, unknown>);
  }

  const saslKeys = Object.keys(props).filter((k) => k.startsWith('sasl.'));
  if (!sasl && saslKeys.length > 0) {
    throw new OptionsError(saslKeys[0]!, `is set but security.protocol is ${protocol}; use SASL_SSL (or SASL_PLAINTEXT) to authenticate`);
  }
  if (sasl) {
    const jaas = props['sasl.jaas.config'] ? fromJaas(props['sasl.jaas.config']) : {};
    const mechName = (props['sasl.mechanisms'] ?? (jaas.username ? 'PLAIN' : '')).toUpperCase();
    const mechanism = MECHANISMS[mechName as keyof typeof MECHANISMS];
    if (!mechanism) {
      throw new OptionsError('sasl.mechanisms', mechName ? `must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER, got '${props['sasl.mechanisms']}'` : `is required with security.protocol=${protocol}`);
    }
    if (mechanism === 'oauthbearer') {
      conn.sasl = { mechanism, oauthBearerProvider: oidcTokenProvider(props) };
    } else {
      const username = props['sasl.username'] ?? jaas.username;
      const password = props['sasl.password'] ?? jaas.password;
      if (!username) throw new OptionsError('sasl.username', `is required with sasl.mechanisms=${mechName}`);
      if (!password) throw new OptionsError('sasl.password', `is required with sasl.mechanisms=${mechName} (from --kafka-config, -X or KAFKA_SASL_PASSWORD)`);
      conn.sasl = { mechanism, username, password };
    }
  }
  return conn;
}

/**
 * OAUTHBEARER through OIDC client credentials (what librdkafka's `sasl.oauthbearer.method=oidc` does): a token is
 * fetched from the token endpoint and reused until shortly before it expires.
 */
function oidcTokenProvider(props: KafkaProperties): () => Promise<{ value: string }> {
  const method = (props['sasl.oauthbearer.method'] ?? '').toLowerCase();
  if (method !== 'oidc') throw new OptionsError('sasl.oauthbearer.method', `must be oidc with sasl.mechanisms=OAUTHBEARER${method ? `, got '${method}'` : ''}`);
  const endpoint = props['sasl.oauthbearer.token.endpoint.url'];
  const clientId = props['sasl.oauthbearer.client.id'];
  const secret = props['sasl.oauthbearer.client.secret'];
  for (const [name, v] of [['sasl.oauthbearer.token.endpoint.url', endpoint], ['sasl.oauthbearer.client.id', clientId], ['sasl.oauthbearer.client.secret', secret]] as const) {
    if (!v) throw new OptionsError(name, 'is required with sasl.oauthbearer.method=oidc');
  }
  try {
    new URL(endpoint!);
  } catch {
    throw new OptionsError('sasl.oauthbearer.token.endpoint.url', 'must be a URL');
  }
  let cached: { value: string; until: number } | undefined;
  return async () => {
    if (cached && Date.now() < cached.until) return { value: cached.value };
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (props['sasl.oauthbearer.scope']) body.set('scope', props['sasl.oauthbearer.scope']);
    const res = await fetch(endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId!)}:${encodeURIComponent(secret!)}`).toString('base64')}` },
      body,
    });
    if (!res.ok) throw new Error(`OAUTHBEARER: the token endpoint answered HTTP ${res.status}`);
    const json = (await res.json()) as { access_token?: string; expires_in?: number };
    if (!json.access_token) throw new Error('OAUTHBEARER: the token endpoint answered without access_token');
    registerSecret(json.access_token);
    cached = { value: json.access_token, until: Date.now() + Math.max(0, (json.expires_in ?? 300) - 30) * 1000 };
    return { value: json.access_token };
  };
}

/** The help text listing the properties (for `--help`). */
export function kafkaPropertiesHelp(): string {
  const width = Math.max(...Object.keys(KAFKA_PROPERTIES).map((k) => k.length));
  return Object.entries(KAFKA_PROPERTIES)
    .map(([k, s]) => `  ${k.padEnd(width)}  ${s.help}${s.secret ? ' [secret]' : ''}`)
    .join('\n');
}
