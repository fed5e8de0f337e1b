/**
 * What `dev up --secure` adds to a dev broker: a self-signed CA and a broker certificate made with the JDK's keytool,
 * SCRAM-SHA-512 users created when the storage is formatted, and the settings for a SASL_SSL listener with the
 * StandardAuthorizer (no ACL, no access: `allow.everyone.if.no.acl.found=false`).
 *
 * Layout of `<dataDir>/secure/` (mode 0700; files 0600): ca.pem (give clients this as ssl.ca.location), ca.p12 (the
 * CA's key), broker.p12 (broker key + chain), truststore.p12, users.json (passwords), and `<user>.properties`: the
 * client properties for each user, ready for `--kafka-config`.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DevEnvironmentError } from '../errors.js';
import { logTail, runTool } from './process.js';

export const ADMIN_USER = 'admin';
/** Users `dev up --secure` creates besides admin when none are named. */
export const DEFAULT_SECURE_USERS = ['app'];

export interface SecureMaterial {
  dir: string;
  caFile: string;
  keystore: string;
  truststore: string;
  storePassword: string;
  /** name → password; `admin` is the super user the broker itself uses. */
  users: Record<string, string>;
}

export const secureDir = (dataDir: string) => join(dataDir, 'secure');
const usersFile = (dataDir: string) => join(secureDir(dataDir), 'users.json');

const password = () => randomBytes(18).toString('base64url');

/** The secure material of a data dir, when it has any. */
export function readSecureMaterial(dataDir: string): SecureMaterial | undefined {
  const f = usersFile(dataDir);
  if (!existsSync(f)) return undefined;
  const saved = JSON.parse(readFileSync(f, 'utf8')) as { storePassword: string; users: Record<string, string> };
  const dir = secureDir(dataDir);
  return { dir, caFile: join(dir, 'ca.pem'), keystore: join(dir, 'broker.p12'), truststore: join(dir, 'truststore.p12'), ...saved };
}

function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Makes the CA, the broker certificate (SAN IP:127.0.0.1 and DNS:localhost) and the users' passwords on first use;
 * later starts reuse them. Users are fixed when the storage is formatted: a new name needs a new data dir.
 */
export async function ensureSecureMaterial(dataDir: string, java: string, users: readonly string[], formatted: boolean): Promise<SecureMaterial> {
  const existing = readSecureMaterial(dataDir);
  if (existing) {
    const missing = users.filter((u) => !(u in existing.users));
    if (missing.length > 0) {
      throw new DevEnvironmentError(`user(s) ${missing.join(', ')} were not created when ${dataDir} was formatted (it has ${Object.keys(existing.users).join(', ')}); use a new --data-dir`);
    }
    return existing;
  }
  if (formatted) {
    throw new DevEnvironmentError(`${dataDir} holds a broker formatted without --secure; use a new --data-dir for a secured broker`);
  }
  const dir = secureDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const storePassword = password();
  const keytool = join(dirname(java), 'keytool');
  const tool = existsSync(keytool) ? keytool : 'keytool';
  const log = join(dir, 'keytool.log');
  // Passwords reach keytool through its environment (-storepass:env), never its command line or the log.
  const env = { ...process.env, MD_STOREPASS: storePassword };
  const store = (file: string) => ['-keystore', join(dir, file), '-storetype', 'PKCS12', '-storepass:env', 'MD_STOREPASS'];
  const steps: string[][] = [
    ['-genkeypair', '-alias', 'ca', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '3650', '-dname', 'CN=multidispatch dev CA', '-ext', 'bc:c', ...store('ca.p12')],
    ['-exportcert', '-alias', 'ca', '-rfc', '-file', join(dir, 'ca.pem'), ...store('ca.p12')],
    ['-genkeypair', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '3650', '-dname', 'CN=localhost', ...store('broker.p12')],
    ['-certreq', '-alias', 'broker', '-file', join(dir, 'broker.csr'), ...store('broker.p12')],
    ['-gencert', '-alias', 'ca', '-infile', join(dir, 'broker.csr'), '-outfile', join(dir, 'broker.pem'), '-rfc', '-validity', '3650',
      '-ext', 'SAN=IP:127.0.0.1,DNS:localhost', '-ext', 'KU=digitalSignature,keyEncipherment', '-ext', 'EKU=serverAuth', ...store('ca.p12')],
    ['-importcert', '-alias', 'ca', '-file', join(dir, 'ca.pem'), '-noprompt', ...store('broker.p12')],
    ['-importcert', '-alias', 'broker', '-file', join(dir, 'broker.pem'), '-noprompt', ...store('broker.p12')],
    ['-importcert', '-alias', 'ca', '-file', join(dir, 'ca.pem'), '-noprompt', ...store('truststore.p12')],
  ];
  for (const args of steps) {
    const code = await runTool(tool, args, { logFile: log, env, timeoutMs: 60_000 });
    if (code !== 0) throw new DevEnvironmentError(`keytool ${args[0]} failed (exit ${code}) making the dev TLS certificates; log: ${log}`, logTail(log));
  }
  const all: Record<string, string> = { [ADMIN_USER]: password() };
  for (const u of users) {
    if (!/^[A-Za-z0-9_.-]+$/.test(u)) throw new DevEnvironmentError(`user name '${u}' may hold only letters, digits, '.', '_' and '-'`);
    all[u] ??= password();
  }
  writePrivate(usersFile(dataDir), `${JSON.stringify({ storePassword, users: all }, null, 2)}\n`);
  return readSecureMaterial(dataDir)!;
}

/** Broker settings for the SASL_SSL listener, the PLAIN-authenticated controller listener and the authorizer. */
export function secureServerProperties(m: SecureMaterial, host: string, port: number, controllerPort: number): Record<string, string> {
  const admin = m.users[ADMIN_USER]!;
  const q = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return {
    listeners: `SASL_SSL://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
    'advertised.listeners': `SASL_SSL://${host}:${port}`,
    'inter.broker.listener.name': 'SASL_SSL',
    'listener.security.protocol.map': 'SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT',
    'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="${ADMIN_USER}" password="${q(admin)}";`,
    // SCRAM users live in the metadata log, which the controller serves: its own listener authenticates with PLAIN.
    'sasl.mechanism.controller.protocol': 'PLAIN',
    'listener.name.controller.sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.controller.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required username="${ADMIN_USER}" password="${q(admin)}" user_${ADMIN_USER}="${q(admin)}";`,
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': m.keystore,
    'ssl.keystore.password': m.storePassword,
    'ssl.key.password': m.storePassword,
    'ssl.truststore.type': 'PKCS12',
    'ssl.truststore.location': m.truststore,
    'ssl.truststore.password': m.storePassword,
    'ssl.client.auth': 'none',
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'allow.everyone.if.no.acl.found': 'false',
    'super.users': `User:${ADMIN_USER}`,
  };
}

/** `--add-scram` arguments of `kafka-storage format`: every user gets a SCRAM-SHA-512 credential. */
export function scramFormatArgs(m: SecureMaterial): string[] {
  return Object.entries(m.users).flatMap(([name, pw]) => ['--add-scram', `SCRAM-SHA-512=[name=${name},password=${pw}]`]);
}

/** Client properties for one user (what `--kafka-config` reads). */
export function clientProperties(m: SecureMaterial, brokers: string, user: string): string {
  return [
    `# multidispatch dev broker (SASL_SSL, SCRAM-SHA-512) as user ${user}; keep this file private.`,
    `bootstrap.servers=${brokers}`,
    'security.protocol=SASL_SSL',
    'sasl.mechanisms=SCRAM-SHA-512',
    `sasl.username=${user}`,
    `sasl.password=${m.users[user]}`,
    `ssl.ca.location=${m.caFile}`,
    '',
  ].join('\n');
}

/** Writes `<user>.properties` for every user (brokers may change between starts); returns user → path. */
export function writeClientFiles(m: SecureMaterial, brokers: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const user of Object.keys(m.users)) {
    const path = join(m.dir, `${user}.properties`);
    writePrivate(path, clientProperties(m, brokers, user));
    out[user] = path;
  }
  return out;
}
