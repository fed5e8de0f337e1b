/**
 * What only @platformatic/kafka's errors tell. Its errors are GenericError subclasses with a `code`
 * (PLT_KFK_NETWORK, PLT_KFK_AUTHENTICATION, PLT_KFK_RESPONSE, …) and `canRetry`; a broker's error code arrives as a
 * ProtocolError whose `apiId` is the protocol name (TOPIC_AUTHORIZATION_FAILED, …), inside a ResponseError (an
 * AggregateError) and, after retries, inside a MultipleErrors. Socket errors (ECONNREFUSED, TLS trust codes) are the
 * `cause` of a NetworkError. The generic part of the classification is in ../errors.ts.
 */
import { KafkaAuthenticationError, KafkaUnavailableError } from '../../errors.js';
import type { KafkaErrorContext } from '../errors.js';

interface PltLike extends Error {
  code?: unknown;
  apiId?: unknown;
  canRetry?: unknown;
  errors?: unknown[];
  cause?: unknown;
  type?: unknown;
  retriable?: unknown;
}

const isObject = (e: unknown): e is PltLike => typeof e === 'object' && e !== null;

/** The Kafka protocol error name a platformatic ProtocolError carries, or ''. */
export function platformaticType(e: unknown): string {
  return isObject(e) && e.code === 'PLT_KFK_PROTOCOL' && typeof e.apiId === 'string' ? e.apiId : '';
}

/** The error and everything it wraps, outermost first. */
function walk(err: unknown, out: PltLike[] = [], seen = new Set<unknown>()): PltLike[] {
  if (!isObject(err) || seen.has(err) || out.length > 30) return out;
  seen.add(err);
  out.push(err);
  if (Array.isArray(err.errors)) for (const e of err.errors) walk(e, out, seen);
  walk(err.cause, out, seen);
  return out;
}

/** The first protocol error name anywhere in a platformatic error. */
export function firstProtocolType(err: unknown): string {
  for (const e of walk(err)) {
    const t = platformaticType(e);
    if (t) return t;
  }
  return '';
}

/**
 * Whether the same request may be sent again: a ProtocolError or NetworkError says so with `canRetry`; an aggregate
 * (a ResponseError, or the MultipleErrors of exhausted retries) is retriable when what it holds is.
 */
export function isRetriable(err: unknown, depth = 0): boolean {
  if (!isObject(err) || depth > 6) return false;
  if (typeof err.retriable === 'boolean' && depth === 0 && !('canRetry' in err)) return err.retriable;
  if (Array.isArray(err.errors) && err.errors.length > 0) return err.errors.every((e) => isRetriable(e, depth + 1));
  if (err.canRetry === true) return true;
  if (err.canRetry === false) return false;
  return isRetriable(err.cause, depth + 1);
}

/**
 * Gives a platformatic error the port's shape (src/kafka/port.ts): `type`, the protocol error name when the
 * broker sent one, and `retriable`. The error itself is returned, with its class, message and causes.
 */
export function portError(err: unknown): unknown {
  if (!isObject(err)) return err;
  // Metadata for a topic the broker does not have ends in a client-side UserError ("Unknown topic t.").
  const type = firstProtocolType(err) || (walk(err).some((e) => e.code === 'PLT_KFK_USER' && /^Unknown topics? /.test(String(e.message))) ? 'UNKNOWN_TOPIC_OR_PARTITION' : '');
  try {
    if (type && err.type === undefined) Object.defineProperty(err, 'type', { value: type, enumerable: true, configurable: true, writable: true });
    if (err.retriable === undefined) Object.defineProperty(err, 'retriable', { value: isRetriable(err), enumerable: true, configurable: true, writable: true });
  } catch {
    /* a frozen error keeps its shape */
  }
  return err;
}

/** host:port a platformatic connection message names ("Connection to 127.0.0.1:9092 failed."). */
export function platformaticBrokers(err: unknown): string[] {
  const out = new Set<string>();
  for (const e of walk(err)) {
    const m = /Connection to (\S+:\d+)/.exec(typeof e.message === 'string' ? e.message : '');
    if (m) out.add(m[1]!);
  }
  return [...out];
}

/** A SASL failure platformatic reports without a protocol error (no mechanism in common, handshake refused). */
export function platformaticAuthError(e: PltLike, ctx: KafkaErrorContext, err: unknown): Error | undefined {
  if (e.code !== 'PLT_KFK_AUTHENTICATION') return undefined;
  const types = walk(e).map(platformaticType);
  const noMechanism = /suitable SASL mechanism/i.test(e.message) || types.includes('UNSUPPORTED_SASL_MECHANISM');
  return new KafkaAuthenticationError(ctx.mechanism ?? 'SASL', noMechanism ? 'the broker does not enable this SASL mechanism' : 'wrong user name or password, or the user does not exist', { cause: err });
}

/** platformatic's own connection failures (after the socket codes found nothing). */
export function platformaticUnavailable(e: PltLike, brokers: readonly string[], err: unknown): Error | undefined {
  if (e.code !== 'PLT_KFK_NETWORK' && e.code !== 'PLT_KFK_TIMEOUT') return undefined;
  const message = typeof e.message === 'string' ? e.message : '';
  if (/Client is closed/i.test(message)) return undefined;
  if (/timed out/i.test(message)) return new KafkaUnavailableError(brokers, 'connection timed out', { cause: err });
  if (/^Connection closed/i.test(message)) return new KafkaUnavailableError(brokers, 'Closed connection by the broker (is it a TLS or SASL listener? check security.protocol)', { cause: err });
  if (/^Connection to \S+ failed/i.test(message)) return new KafkaUnavailableError(brokers, message.replace(/\.$/, ''), { cause: err });
  return undefined;
}
