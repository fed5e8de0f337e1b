import { KafkaAuthenticationError, KafkaAuthorizationError, KafkaUnavailableError, MdError } from '../errors.js';

/** kafkajs errors that mean no broker answered (after kafkajs' own retries). */
const UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSRequestTimeoutError',
]);

interface KafkajsLike {
  name?: string;
  type?: string;
  message?: string;
  originalError?: unknown;
  cause?: unknown;
  /** KafkaJSConnectionError: the `host:port` it could not reach. */
  broker?: string;
}

/** The error and the errors it wraps (kafkajs' `originalError`, then `cause`), outermost first. */
function chain(err: unknown): KafkajsLike[] {
  const out: KafkajsLike[] = [];
  let cur: unknown = err;
  while (cur && typeof cur === 'object' && out.length < 10) {
    out.push(cur as KafkajsLike);
    cur = (cur as KafkajsLike).originalError ?? (cur as KafkajsLike).cause;
  }
  return out;
}

/**
 * Turns a kafkajs failure into the package's typed error (unreachable → exit 7, authentication or a
 * missing ACL → exit 4); anything else, including errors that are already MdErrors, is returned as is.
 *
 * @example
 * try { await listTopics(kafka) } catch (err) { throw translateKafkaError(err, 'describe') }
 */
export function translateKafkaError(err: unknown, operation: string, resource = ''): unknown {
  if (err instanceof MdError) return err;
  const errors = chain(err);
  const brokers = [...new Set(errors.map((e) => e.broker).filter((b): b is string => typeof b === 'string' && b !== ''))];
  for (const e of errors) {
    if (e.name === 'KafkaJSSASLAuthenticationError' || e.type === 'SASL_AUTHENTICATION_FAILED') {
      return new KafkaAuthenticationError('sasl', e.message ?? 'rejected', { cause: err });
    }
    if (e.type === 'TOPIC_AUTHORIZATION_FAILED') return new KafkaAuthorizationError('topic', resource || '(topics)', operation, { cause: err });
    if (e.type === 'CLUSTER_AUTHORIZATION_FAILED') return new KafkaAuthorizationError('cluster', 'kafka-cluster', operation, { cause: err });
    if (e.name && UNREACHABLE.has(e.name)) return new KafkaUnavailableError(brokers, e.message ?? e.name, { cause: err });
  }
  return err;
}
