/**
 * What only kafkajs' errors tell: its error class names (KafkaJSGroupCoordinatorNotFound, KafkaJSSASLAuthenticationError,
 * KafkaJSConnectionError, …), the SASL mechanism named in its messages, and its retry wrappers. The generic part
 * (protocol error names, TLS and socket codes) is in ../errors.ts.
 */
import { KafkaAuthenticationError, KafkaAuthorizationError, KafkaUnavailableError } from '../../errors.js';
import type { KafkaErrorContext } from '../errors.js';

interface KafkaJsLike extends Error {
  type?: string;
  retriable?: boolean;
  cause?: unknown;
  originalError?: unknown;
}

/** The SASL mechanism named in a kafkajs authentication message ("SASL SCRAM SHA512 authentication failed: …"). */
export function mechanismOf(message: string): string {
  const scram = /SASL SCRAM (SHA256|SHA512)/i.exec(message);
  if (scram) return `SCRAM-${scram[1]!.toUpperCase().replace('SHA', 'SHA-')}`;
  const other = /SASL (PLAIN|OAUTHBEARER|AWS-IAM)/i.exec(message);
  return other ? other[1]!.toUpperCase() : 'SASL';
}

/** An ACL or authentication failure only kafkajs' error names reveal (see classifyKafkaError's first pass). */
export function kafkajsAuthError(e: KafkaJsLike, ctx: KafkaErrorContext, err: unknown): Error | undefined {
  // kafkajs drops the FindCoordinator error (GROUP_/TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and says only that no
  // coordinator was found; on a reachable cluster that is how a missing ACL shows. The stack tells which one.
  if (e.name === 'KafkaJSGroupCoordinatorNotFound') {
    const stack = e.stack ?? '';
    const txn = /eosManager/.test(stack) && !/sendOffsets/.test(stack);
    const detail = 'the broker would not name its coordinator, which is how Kafka answers a missing ACL';
    if (txn && ctx.transactionalId) return new KafkaAuthorizationError('transactional id', ctx.transactionalId, 'WRITE and DESCRIBE', { cause: err, detail });
    if (!txn && ctx.group) return new KafkaAuthorizationError('group', ctx.group, 'READ', { cause: err, detail });
  }
  if (e.name === 'KafkaJSSASLAuthenticationError') {
    return new KafkaAuthenticationError(ctx.mechanism ?? mechanismOf(e.message ?? ''), 'wrong user name or password, or the user does not exist', { cause: err });
  }
  return undefined;
}

/** The SASL mechanism a kafkajs message names, for protocol-level SASL failures without a context. */
export const kafkajsMechanism = (e: KafkaJsLike): string => mechanismOf(e.message ?? '');

const CONNECTION_ERRORS = ['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSBrokerNotFound', 'KafkaJSNoBrokerAvailableError', 'KafkaJSRequestTimeoutError'];

/** kafkajs' own connection failures (after the socket codes found nothing). */
export function kafkajsUnavailable(e: KafkaJsLike, brokers: readonly string[], err: unknown): Error | undefined {
  if (!CONNECTION_ERRORS.includes(e.name)) return undefined;
  const m = /Connection timeout/i.test(e.message) ? 'connection timed out'
    : /closed/i.test(e.message) ? `${e.message.replace(/^Connection error: /, '')} by the broker (is it a TLS or SASL listener? check security.protocol)`
    : e.message.replace(/^Connection error: /, '');
  return new KafkaUnavailableError(brokers, m, { cause: err });
}

/** Whether a kafkajs error (or its cause) is worth sending the same batch again. */
export function isRetriable(err: unknown): boolean {
  for (let e = err as KafkaJsLike | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.retriable === true) return true;
    if (e.name === 'KafkaJSNumberOfRetriesExceeded' || e.name === 'KafkaJSNonRetriableError') {
      e = (e.cause ?? e.originalError) as typeof e;
      continue;
    }
    return false;
  }
  return false;
}
