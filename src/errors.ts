/**
 * One error hierarchy for the whole package. Every error carries a stable `code` that callers and the
 * CLI switch on, a `retriable` flag, and the underlying `cause` when there is one.
 *
 * @example
 * try { await publisher.publish('orders.v1.OrderPlaced', event) }
 * catch (err) { if (err instanceof ValidationError) console.error(err.fieldPath, err.message) }
 */
export type ErrorCode =
  | 'MD_VALIDATION'
  | 'MD_UNKNOWN_EVENT_TYPE'
  | 'MD_OPTIONS'
  | 'MD_SCHEMA'
  | 'MD_SCHEMA_LINT'
  | 'MD_CLOSED'
  | 'MD_BUFFER_FULL'
  | 'MD_KAFKA_UNAVAILABLE'
  | 'MD_KAFKA_AUTHENTICATION'
  | 'MD_KAFKA_AUTHORIZATION'
  | 'MD_KAFKA_FENCED'
  | 'MD_DEAD_LETTERED'
  | 'MD_KAFKA_DELIVERY'
  | 'MD_DELIVERY_TIMEOUT'
  | 'MD_STATSD'
  | 'MD_DEV_ENV'
  | 'MD_USAGE'
  | 'MD_IDENTIFIER'
  | 'MD_WAREHOUSE'
  | 'MD_WAREHOUSE_UNAVAILABLE'
  | 'MD_OFFSET_CONFLICT'
  | 'MD_POISON_RECORD'
  | 'MD_TOPOLOGY';

export interface MdErrorOptions {
  cause?: unknown;
  retriable?: boolean;
}

export class MdError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: MdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** An event does not match its schema. `fieldPath` names the offending field (`payment.amountMinor`). */
export class ValidationError extends MdError {
  readonly eventType: string;
  readonly fieldPath: string;

  constructor(eventType: string, fieldPath: string, problem: string) {
    super('MD_VALIDATION', `${eventType}: field '${fieldPath}' ${problem}`);
    this.eventType = eventType;
    this.fieldPath = fieldPath;
  }
}

export class UnknownEventTypeError extends MdError {
  readonly eventType: string;

  constructor(eventType: string, known: readonly string[]) {
    const hint = known.length > 0 ? ` (known: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', ...' : ''})` : '';
    super('MD_UNKNOWN_EVENT_TYPE', `unknown event type '${eventType}'${hint}`);
    this.eventType = eventType;
  }
}

/** An option passed to a factory is invalid. `optionPath` is the dotted path of the bad option. */
export class OptionsError extends MdError {
  readonly optionPath: string;

  constructor(optionPath: string, problem: string) {
    super('MD_OPTIONS', `invalid option '${optionPath}': ${problem}`);
    this.optionPath = optionPath;
  }
}

export interface LintProblem {
  file: string;
  message?: string;
  field?: string;
  rule: string;
  text: string;
}

/** Schema files break one or more dispatch rules; every problem names file, message and field. */
export class SchemaLintError extends MdError {
  readonly problems: readonly LintProblem[];

  constructor(problems: readonly LintProblem[]) {
    super('MD_SCHEMA_LINT', `${problems.length} schema problem(s):\n${problems.map(formatLintProblem).join('\n')}`);
    this.problems = problems;
  }
}

export function formatLintProblem(p: LintProblem): string {
  const where = [p.file, p.message, p.field].filter(Boolean).join(': ');
  return `  ${where}: ${p.text} [${p.rule}]`;
}

export class SchemaError extends MdError {
  constructor(message: string, options: MdErrorOptions = {}) {
    super('MD_SCHEMA', message, options);
  }
}

export class ClosedError extends MdError {
  constructor(what = 'publisher') {
    super('MD_CLOSED', `${what} is closed`);
  }
}

export class BufferFullError extends MdError {
  constructor(limit: string) {
    super('MD_BUFFER_FULL', `publish buffer is full (${limit}); the event was not accepted`, { retriable: true });
  }
}

export class KafkaDeliveryError extends MdError {
  readonly topic: string;

  constructor(topic: string, message: string, options: MdErrorOptions = {}) {
    super('MD_KAFKA_DELIVERY', `delivery to topic '${topic}' failed: ${message}`, options);
    this.topic = topic;
  }
}

export class DeliveryTimeoutError extends MdError {
  readonly topic: string;

  constructor(topic: string, timeoutMs: number, cause?: unknown) {
    const why = cause instanceof Error ? `; last error: ${cause.message}` : '';
    super('MD_DELIVERY_TIMEOUT', `record for topic '${topic}' was not acknowledged within deliveryTimeoutMs=${timeoutMs}${why}`, {
      cause,
      retriable: true,
    });
    this.topic = topic;
  }
}

export class DevEnvironmentError extends MdError {
  readonly logTail: string | undefined;

  constructor(message: string, logTail?: string, options: MdErrorOptions = {}) {
    super('MD_DEV_ENV', message, options);
    this.logTail = logTail;
  }
}

export class UsageError extends MdError {
  constructor(message: string) {
    super('MD_USAGE', message);
  }
}

/** A topic, event or field name cannot be turned into a safe warehouse identifier. */
export class IdentifierError extends MdError {
  constructor(what: string, name: string, problem: string) {
    super('MD_IDENTIFIER', `${what} ${JSON.stringify(name)} cannot be used as a warehouse identifier: ${problem}`);
  }
}

/** A warehouse statement failed for a reason that retrying will not fix (bad SQL, permissions, types). */
export class WarehouseError extends MdError {
  constructor(warehouse: string, message: string, options: MdErrorOptions = {}) {
    super('MD_WAREHOUSE', `${warehouse}: ${message}`, options);
  }
}

/** The warehouse cannot be reached right now (connection refused, timeout, 5xx); retrying may succeed. */
export class WarehouseUnavailableError extends MdError {
  constructor(warehouse: string, message: string, options: MdErrorOptions = {}) {
    super('MD_WAREHOUSE_UNAVAILABLE', `${warehouse} is unavailable: ${message}`, { ...options, retriable: true });
  }
}

/**
 * The offsets stored in the warehouse are not the ones this loader expected: another loader instance
 * wrote these partitions since (a rebalance). The whole batch was rolled back.
 */
export class OffsetConflictError extends MdError {
  readonly partitions: ReadonlyArray<{ topic: string; partition: number; expected: string | null; found: string | null }>;
  constructor(partitions: ReadonlyArray<{ topic: string; partition: number; expected: string | null; found: string | null }>) {
    super(
      'MD_OFFSET_CONFLICT',
      `offsets changed under this loader (another instance wrote them): ${partitions
        .map((p) => `${p.topic}[${p.partition}] expected ${p.expected ?? 'none'}, found ${p.found ?? 'none'}`)
        .join('; ')}`,
    );
    this.partitions = partitions;
  }
}

/** A record that cannot be loaded, with errorsTolerance 'none'. */
export class PoisonRecordError extends MdError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  constructor(topic: string, partition: number, offset: string, reason: string) {
    super('MD_POISON_RECORD', `record ${topic}[${partition}]@${offset} cannot be loaded: ${reason}`);
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
  }
}

/**
 * Topics do not fit what a consumer needs: missing, or with partition counts that break co-partitioning (an
 * input, a table, or an internal topic made for another layout). `topic` names the first one at fault.
 */
export class TopologyError extends MdError {
  readonly topic: string;
  constructor(topic: string, message: string) {
    super('MD_TOPOLOGY', message);
    this.topic = topic;
  }
}

/** The Kafka cluster cannot be reached (connection refused, unknown host, timeout); retrying later may succeed. */
export class KafkaUnavailableError extends MdError {
  readonly brokers: readonly string[];
  constructor(brokers: readonly string[], reason: string, options: MdErrorOptions = {}) {
    super('MD_KAFKA_UNAVAILABLE', `cannot reach Kafka at ${brokers.join(',') || '(no brokers)'}: ${reason}`, { ...options, retriable: true });
    this.brokers = brokers;
  }
}

/**
 * The cluster refused who we are: SASL authentication failed (wrong user or password, mechanism not enabled) or
 * the TLS handshake failed (the broker's certificate is not trusted, or the broker wants a client certificate).
 * The message never carries a password.
 */
export class KafkaAuthenticationError extends MdError {
  readonly mechanism: string;
  constructor(mechanism: string, reason: string, options: MdErrorOptions = {}) {
    super('MD_KAFKA_AUTHENTICATION', `Kafka authentication failed (${mechanism}): ${reason}`, options);
    this.mechanism = mechanism;
  }
}

export type KafkaResourceType = 'topic' | 'group' | 'transactional id' | 'cluster';

/**
 * The principal is authenticated but an ACL denies an operation: `resourceType` and `resource` name what it needs
 * (the topic, the consumer group or the transactional id), `operation` what it tried.
 */
export class KafkaAuthorizationError extends MdError {
  readonly resourceType: KafkaResourceType;
  readonly resource: string;
  readonly operation: string;
  constructor(resourceType: KafkaResourceType, resource: string, operation: string, options: MdErrorOptions & { detail?: string } = {}) {
    super('MD_KAFKA_AUTHORIZATION', `not authorized: ${operation} on ${resourceType} '${resource}' is denied to this principal (${options.detail ? `${options.detail}; ` : ''}grant it with an ACL; see docs/operations.md)`, options);
    this.resourceType = resourceType;
    this.resource = resource;
    this.operation = operation;
  }
}

/**
 * A newer producer with the same transactional id started (another instance of the same consumer took over, or
 * this one restarted): this producer is fenced and can never commit again. Its open transaction is aborted by the
 * broker; nothing it wrote becomes visible.
 */
export class KafkaFencedError extends MdError {
  readonly transactionalId: string;
  constructor(transactionalId: string, options: MdErrorOptions = {}) {
    super('MD_KAFKA_FENCED', `the transactional producer '${transactionalId}' was fenced: a newer producer with the same transactional id took over`, options);
    this.transactionalId = transactionalId;
  }
}

/** `load --once` finished but sent records to the dead-letter topic: nothing was lost, but not everything loaded. */
export class DeadLetteredError extends MdError {
  readonly count: number;
  readonly dlqTopic: string;
  constructor(count: number, dlqTopic: string) {
    super('MD_DEAD_LETTERED', `${count} record(s) could not be loaded and went to the dead-letter topic '${dlqTopic}'`);
    this.count = count;
    this.dlqTopic = dlqTopic;
  }
}

/** One exit status per kind of failure, the same for every command. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  schema: 3,
  auth: 4,
  poison: 5,
  warehouse: 6,
  kafkaUnreachable: 7,
  devEnvironment: 8,
  interrupted: 130,
} as const;

/** The exit-code table as printed at the end of every command's --help and in docs/operations.md. */
export const EXIT_CODES_HELP = `Exit status (the same for every command):
  0  done
  1  failed for another reason (demo: the views disagree)
  2  usage: a bad flag, option or config file; a topic that does not exist or does not fit
  3  schema: a .proto file does not parse or breaks a rule; an event does not match its schema
  4  auth: Kafka authentication (SASL, TLS trust) or authorization (a missing ACL) failed
  5  records could not be loaded (--errors-tolerance none), or load --once dead-lettered some
  6  warehouse error (DuckDB, Snowflake)
  7  Kafka unreachable (no broker answered; dev status: not running)
  8  the local dev environment could not start (dev up)`;

/** Exit statuses of the CLI, one per error family (see EXIT_CODES_HELP). */
export function exitCodeFor(err: unknown): number {
  if (!(err instanceof MdError)) return EXIT.failure;
  switch (err.code) {
    case 'MD_USAGE':
    case 'MD_OPTIONS':
    case 'MD_TOPOLOGY':
      return EXIT.usage;
    case 'MD_SCHEMA':
    case 'MD_SCHEMA_LINT':
    case 'MD_VALIDATION':
    case 'MD_UNKNOWN_EVENT_TYPE':
      return EXIT.schema;
    case 'MD_KAFKA_AUTHENTICATION':
    case 'MD_KAFKA_AUTHORIZATION':
      return EXIT.auth;
    case 'MD_POISON_RECORD':
    case 'MD_DEAD_LETTERED':
      return EXIT.poison;
    case 'MD_WAREHOUSE':
    case 'MD_WAREHOUSE_UNAVAILABLE':
    case 'MD_IDENTIFIER':
      return EXIT.warehouse;
    case 'MD_KAFKA_UNAVAILABLE':
    case 'MD_DELIVERY_TIMEOUT':
      return EXIT.kafkaUnreachable;
    case 'MD_DEV_ENV':
      return EXIT.devEnvironment;
    default:
      return EXIT.failure;
  }
}
