/**
 * Turns kafkajs errors into the package's typed errors, so that every command reports the same failure the same way
 * (and exits with the same code): an unreachable cluster, failed authentication (SASL or TLS trust), or a missing ACL
 * naming the resource it is for. Errors that are none of these are returned unchanged.
 */
import { KafkaAuthenticationError, KafkaAuthorizationError, KafkaUnavailableError, MdError, type KafkaResourceType } from '../errors.js';

/** What the failing call was about, to name the resource an ACL is missing for. */
export interface KafkaErrorContext {
  brokers?: readonly string[];
  /** SASL mechanism in use, for the authentication message. */
  mechanism?: string;
  topics?: readonly string[];
  group?: string;
  transactionalId?: string;
  /** What was being done: 'read', 'write', 'describe', 'create', … */
  operation?: string;
}

const TLS_TRUST = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_UNTRUSTED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE',
]);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET']);

interface KafkaJsLike extends Error {
  type?: string;
  /** Set by kafkajs on per-topic errors (KafkaJSCreateTopicError, …). */
  topic?: string;
  code?: string | number;
  broker?: string;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown[];
}

/** The error and everything it wraps (cause chains, retry wrappers, aggregate errors), outermost first. */
function chain(err: unknown): KafkaJsLike[] {
  const out: KafkaJsLike[] = [];
  const seen = new Set<unknown>();
  const walk = (e: unknown) => {
    if (!e || typeof e !== 'object' || seen.has(e) || out.length > 20) return;
    seen.add(e);
    out.push(e as KafkaJsLike);
    const k = e as KafkaJsLike;
    walk(k.cause);
    walk(k.originalError);
    if (Array.isArray(k.errors)) k.errors.forEach(walk);
  };
  walk(err);
  return out;
}

const AUTHZ: Record<string, KafkaResourceType> = {
  TOPIC_AUTHORIZATION_FAILED: 'topic',
  GROUP_AUTHORIZATION_FAILED: 'group',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'transactional id',
  CLUSTER_AUTHORIZATION_FAILED: 'cluster',
};

/** The SASL mechanism named in a kafkajs authentication message ("SASL SCRAM SHA512 authentication failed: …"). */
function mechanismOf(message: string): string {
  const scram = /SASL SCRAM (SHA256|SHA512)/i.exec(message);
  if (scram) return `SCRAM-${scram[1]!.toUpperCase().replace('SHA', 'SHA-')}`;
  const other = /SASL (PLAIN|OAUTHBEARER|AWS-IAM)/i.exec(message);
  return other ? other[1]!.toUpperCase() : 'SASL';
}

/** The typed error for a kafkajs failure, or `err` itself when it is not a connection, authentication or ACL problem. */
export function classifyKafkaError(err: unknown, ctx: KafkaErrorContext = {}): unknown {
  if (err instanceof MdError) return err;
  const all = chain(err);
  for (const e of all) {
    const type = typeof e.type === 'string' ? e.type : '';
    const resourceType = AUTHZ[type];
    if (resourceType) {
      const resource =
        resourceType === 'topic' && typeof e.topic === 'string' ? e.topic
        : resourceType === 'topic' ? (ctx.topics && ctx.topics.length > 0 ? ctx.topics.join("', '") : '(unknown)')
        : resourceType === 'group' ? ctx.group ?? '(unknown)'
        : resourceType === 'transactional id' ? ctx.transactionalId ?? '(unknown)'
        : 'kafka-cluster';
      const operation = e.name === 'KafkaJSCreateTopicError' ? 'CREATE (it does not exist, or this principal cannot see it)' : ctx.operation ?? 'access';
      return new KafkaAuthorizationError(resourceType, resource, operation, { cause: err });
    }
    // kafkajs drops the FindCoordinator error (GROUP_/TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and says only that no
    // coordinator was found; on a reachable cluster that is how a missing ACL shows. The stack tells which one.
    if (e.name === 'KafkaJSGroupCoordinatorNotFound') {
      const stack = e.stack ?? '';
      const txn = /eosManager/.test(stack) && !/sendOffsets/.test(stack);
      const detail = 'the broker would not name its coordinator, which is how Kafka answers a missing ACL';
      if (txn && ctx.transactionalId) return new KafkaAuthorizationError('transactional id', ctx.transactionalId, 'WRITE and DESCRIBE', { cause: err, detail });
      if (!txn && ctx.group) return new KafkaAuthorizationError('group', ctx.group, 'READ', { cause: err, detail });
    }
    if (e.name === 'KafkaJSSASLAuthenticationError' || type === 'SASL_AUTHENTICATION_FAILED' || type === 'ILLEGAL_SASL_STATE' || type === 'UNSUPPORTED_SASL_MECHANISM') {
      const why = type === 'UNSUPPORTED_SASL_MECHANISM' ? 'the broker does not enable this SASL mechanism' : 'wrong user name or password, or the user does not exist';
      return new KafkaAuthenticationError(ctx.mechanism ?? mechanismOf(e.message ?? ''), why, { cause: err });
    }
  }
  for (const e of all) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (TLS_TRUST.has(code) || /self[- ]signed certificate|unable to verify the first certificate|unable to get local issuer/i.test(e.message ?? '')) {
      return new KafkaAuthenticationError('TLS', `the broker's certificate is not trusted (${code || e.message}); set ssl.ca.location to the CA that signed it`, { cause: err });
    }
    if (/wrong version number|packet length too long|EPROTO/i.test(`${code} ${e.message ?? ''}`)) {
      return new KafkaAuthenticationError('TLS', 'the TLS handshake failed: is security.protocol right for this listener (SSL/SASL_SSL vs PLAINTEXT)?', { cause: err });
    }
  }
  const brokers = ctx.brokers ?? [...new Set(all.map((e) => e.broker).filter((b): b is string => typeof b === 'string' && b !== ''))];
  for (const e of all) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (UNREACHABLE.has(code)) return new KafkaUnavailableError(brokers, code === 'ETIMEDOUT' ? 'connection timed out' : code, { cause: err });
  }
  for (const e of all) {
    if (['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSBrokerNotFound', 'KafkaJSNoBrokerAvailableError', 'KafkaJSRequestTimeoutError'].includes(e.name)) {
      const m = /Connection timeout/i.test(e.message) ? 'connection timed out'
        : /closed/i.test(e.message) ? `${e.message.replace(/^Connection error: /, '')} by the broker (is it a TLS or SASL listener? check security.protocol)`
        : e.message.replace(/^Connection error: /, '');
      return new KafkaUnavailableError(brokers, m, { cause: err });
    }
  }
  return err;
}
