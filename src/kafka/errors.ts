/**
 * Turns the Kafka clients' errors into the package's typed errors, so that every command reports the same failure the
 * same way (and exits with the same code) whichever client is in use: an unreachable cluster, failed authentication
 * (SASL or TLS trust), a missing ACL naming the resource it is for, or a fenced transactional producer. Errors that
 * are none of these are returned unchanged. What only one client's errors tell is inferred in
 * src/kafka/<client>/errors.ts; this file holds the part every client shares (protocol error names, socket codes).
 */
import { KafkaAuthenticationError, KafkaAuthorizationError, KafkaFencedError, KafkaUnavailableError, MdError, type KafkaResourceType } from '../errors.js';
import { kafkajsAuthError, kafkajsMechanism, kafkajsUnavailable } from './kafkajs/errors.js';
import { platformaticAuthError, platformaticBrokers, platformaticType, platformaticUnavailable } from './platformatic/errors.js';

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

interface ClientError extends Error {
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
function chain(err: unknown): ClientError[] {
  const out: ClientError[] = [];
  const seen = new Set<unknown>();
  const walk = (e: unknown) => {
    if (!e || typeof e !== 'object' || seen.has(e) || out.length > 20) return;
    seen.add(e);
    out.push(e as ClientError);
    const k = e as ClientError;
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

/** The protocol error name an error carries: the port's `type` (kafkajs sets it too), or platformatic's `apiId`. */
const typeOf = (e: ClientError): string => (typeof e.type === 'string' && e.type) || platformaticType(e);

const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTIONAL_ID_FENCED']);

/** The typed error for a Kafka client's failure, or `err` itself when it is not a connection, authentication, ACL or fencing problem. */
export function classifyKafkaError(err: unknown, ctx: KafkaErrorContext = {}): unknown {
  if (err instanceof MdError) return err;
  const all = chain(err);
  for (const e of all) {
    const type = typeOf(e);
    const resourceType = AUTHZ[type];
    if (resourceType) {
      const resource =
        resourceType === 'topic' && typeof e.topic === 'string' ? e.topic
        : resourceType === 'topic' ? (ctx.topics && ctx.topics.length > 0 ? ctx.topics.join("', '") : '(unknown)')
        : resourceType === 'group' ? ctx.group ?? '(unknown)'
        : resourceType === 'transactional id' ? ctx.transactionalId ?? '(unknown)'
        : 'kafka-cluster';
      // A group and a transactional id each need the same operations whatever the command was doing (consumers and
      // committers need READ on their group; a transactional producer WRITE and DESCRIBE on its id).
      const operation = e.name === 'KafkaJSCreateTopicError' ? 'CREATE (it does not exist, or this principal cannot see it)'
        : resourceType === 'group' ? 'READ'
        : resourceType === 'transactional id' ? 'WRITE and DESCRIBE'
        : ctx.operation ?? 'access';
      return new KafkaAuthorizationError(resourceType, resource, operation, { cause: err });
    }
    const inferred = kafkajsAuthError(e, ctx, err) ?? platformaticAuthError(e, ctx, err);
    if (inferred) return inferred;
    if (type === 'SASL_AUTHENTICATION_FAILED' || type === 'ILLEGAL_SASL_STATE' || type === 'UNSUPPORTED_SASL_MECHANISM') {
      const why = type === 'UNSUPPORTED_SASL_MECHANISM' ? 'the broker does not enable this SASL mechanism' : 'wrong user name or password, or the user does not exist';
      return new KafkaAuthenticationError(ctx.mechanism ?? kafkajsMechanism(e), why, { cause: err });
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
  for (const e of all) {
    if (FENCED.has(typeOf(e))) return new KafkaFencedError(ctx.transactionalId ?? '(unknown)', { cause: err });
  }
  const named = [...new Set(all.map((e) => e.broker).filter((b): b is string => typeof b === 'string' && b !== ''))];
  const brokers = ctx.brokers ?? (named.length > 0 ? named : platformaticBrokers(err));
  for (const e of all) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (UNREACHABLE.has(code)) return new KafkaUnavailableError(brokers, code === 'ETIMEDOUT' ? 'connection timed out' : code, { cause: err });
  }
  for (const e of all) {
    const unavailable = kafkajsUnavailable(e, brokers, err) ?? platformaticUnavailable(e, brokers, err);
    if (unavailable) return unavailable;
  }
  return err;
}
