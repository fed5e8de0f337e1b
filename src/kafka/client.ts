import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { z } from 'zod';

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
  })
  .strict();

export type KafkaConnectionOptions = z.input<typeof kafkaConnectionSchema>;
export type KafkaConnection = z.output<typeof kafkaConnectionSchema>;

/** Parses a comma-separated broker list (`KAFKA_BROKERS=a:9092,b:9092`). */
export function parseBrokerList(list: string): string[] {
  return list.split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * Builds the kafkajs client. kafkajs' own logger is silenced: its messages would carry connection details;
 * errors reach callers as typed errors instead.
 */
export function createKafka(conn: KafkaConnection): Kafka {
  const config: KafkaConfig = {
    brokers: conn.brokers,
    clientId: conn.clientId,
    connectionTimeout: conn.connectionTimeoutMs,
    requestTimeout: conn.requestTimeoutMs,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2000 },
  };
  if (conn.ssl !== undefined) config.ssl = conn.ssl as KafkaConfig['ssl'];
  if (conn.sasl) config.sasl = conn.sasl as SASLOptions;
  return new Kafka(config);
}
