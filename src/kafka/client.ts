import { z } from 'zod';
import { OptionsError } from '../errors.js';
import { createKafkajsClient } from './kafkajs/client.js';
import { createPlatformaticClient } from './platformatic/client.js';
import { KAFKA_CLIENTS, type KafkaClient, type KafkaClientName } from './port.js';

/** Connection settings shared by every Kafka user in the package (publisher, tail, loader, derive). */
export const kafkaConnectionSchema = z
  .object({
    brokers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')).min(1, 'needs at least one host:port'),
    clientId: z.string().min(1).default('multidispatch'),
    ssl: z.union([z.boolean(), z.object({}).passthrough()]).optional(),
    sasl: z
      .discriminatedUnion('mechanism', [
        z.object({ mechanism: z.literal('plain'), username: z.string(), password: z.string() }),
        z.object({ mechanism: z.literal('scram-sha-256'), username: z.string(), password: z.string() }),
        z.object({ mechanism: z.literal('scram-sha-512'), username: z.string(), password: z.string() }),
        z.object({ mechanism: z.literal('oauthbearer'), oauthBearerProvider: z.custom<() => Promise<{ value: string }>>((v) => typeof v === 'function', 'must be a function') }),
      ])
      .optional(),
    connectionTimeoutMs: z.number().int().positive().default(3000),
    requestTimeoutMs: z.number().int().positive().default(30000),
    /** The client library behind the port; without it, the caller's fallback (see createKafkaClient). */
    client: z.enum(KAFKA_CLIENTS).optional(),
  })
  .strict();

export type KafkaConnectionOptions = z.input<typeof kafkaConnectionSchema>;
export type KafkaConnection = z.output<typeof kafkaConnectionSchema>;

/** Parses a comma-separated broker list (`KAFKA_BROKERS=a:9092,b:9092`). */
export function parseBrokerList(list: string): string[] {
  return list.split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * The Kafka client for a connection, behind the port every part of the package uses (src/kafka/port.ts): the
 * adapter named by `conn.client`, else `fallback` (a caller's own default), else kafkajs.
 *
 * @example
 * const kafka = createKafkaClient(kafkaConnectionSchema.parse({ brokers: ['localhost:9092'] }));
 * const admin = kafka.admin();
 */
export function createKafkaClient(conn: KafkaConnection, fallback?: KafkaClientName): KafkaClient {
  const name = conn.client ?? defaultOverride() ?? fallback ?? 'kafkajs';
  return name === 'platformatic' ? createPlatformaticClient(conn) : createKafkajsClient(conn);
}

/**
 * `MULTIDISPATCH_KAFKA_CLIENT`: replaces the default client of every path (not a `client` a connection names), so a
 * whole deployment, or the test suite, can run on one adapter. Checked on each use; a bad value is an OptionsError.
 */
function defaultOverride(): KafkaClientName | undefined {
  const v = process.env.MULTIDISPATCH_KAFKA_CLIENT;
  if (v === undefined || v === '') return undefined;
  if (!(KAFKA_CLIENTS as readonly string[]).includes(v)) {
    throw new OptionsError('MULTIDISPATCH_KAFKA_CLIENT', `'${v}' is not a Kafka client (one of ${KAFKA_CLIENTS.join(', ')})`);
  }
  return v as KafkaClientName;
}
