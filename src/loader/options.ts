import { z } from 'zod';
import { kafkaConnectionSchema } from '../kafka/client.js';
import type { EventSchema } from '../schema/types.js';
import type { Warehouse } from '../warehouse/types.js';

const positiveInt = z.number().int().positive();

/** `duckdb:PATH`, `{ type: 'duckdb', path }`, `{ type: 'snowflake', ... }`, `lake:DIR`, `lake:s3://bucket/prefix`, `{ type: 'lake', location, s3 }` or a Warehouse instance. */
const warehouseSchema = z.union([
  z
    .string()
    .regex(/^(duckdb:.+|snowflake|lake:.+)$/, "must be 'duckdb:PATH', 'snowflake', 'lake:DIR' or 'lake:s3://bucket/prefix'"),
  z.object({ type: z.literal('duckdb'), path: z.string().min(1), shared: z.boolean().optional() }).strict(),
  z.object({ type: z.literal('snowflake') }).passthrough(),
  z
    .object({
      type: z.literal('lake'),
      location: z.string().min(1),
      s3: z
        .object({ endpoint: z.string().url().optional(), region: z.string().min(1).optional(), forcePathStyle: z.boolean().optional(), conditionalWrites: z.boolean().optional(), stagingDir: z.string().min(1).optional() })
        .strict()
        .optional(),
      compression: z.enum(['zstd', 'snappy', 'gzip', 'uncompressed']).optional(),
      rowGroupSize: positiveInt.optional(),
    })
    .strict(),
  z.custom<Warehouse>(
    (v) => !!v && typeof v === 'object' && typeof (v as Warehouse).writeBatch === 'function' && typeof (v as Warehouse).readOffsets === 'function',
    'must be a warehouse spec or a Warehouse instance',
  ),
]);

export const loaderOptionsSchema = z
  .object({
    kafka: kafkaConnectionSchema,
    /** The schema the records were published with (codegen's `schema` export or loadSchema()). */
    schema: z
      .custom<EventSchema>(
        (v) => !!v && typeof v === 'object' && !!(v as EventSchema).bundle && (v as EventSchema).bundle.version === 1,
        "must be a schema: codegen's `schema` export or the result of loadSchema(dir)",
      )
      .optional(),
    /**
     * Or the event catalogue (`multidispatch catalogue push`): schemas read from its compacted topic and followed while
     * the loader runs, each record decoded with the version its fingerprint header names. A record whose version is
     * not in the catalogue waits up to `waitMs` for it, then goes to the dead-letter topic.
     */
    catalogue: z
      .object({
        topic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'is not a valid Kafka topic name').default('multidispatch.catalogue'),
        waitMs: z.number().int().min(0).default(30_000),
      })
      .strict()
      .optional(),
    /** Topics to load, by name. */
    topics: z.array(z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'is not a valid Kafka topic name')).optional(),
    /** Or every topic whose name matches this regular expression (resolved when the loader starts). */
    topicPattern: z
      .string()
      .refine((s) => {
        try {
          new RegExp(s);
          return true;
        } catch {
          return false;
        }
      }, 'is not a valid regular expression')
      .optional(),
    /** Consumer group; offsets in the warehouse are stored per group. */
    group: z.string().min(1).default('multidispatch-loader'),
    warehouse: warehouseSchema.default('duckdb:multidispatch.duckdb'),
    /** Topic → table name overrides (upper-case letters, digits and _). */
    tables: z.record(z.string()).default({}),
    /**
     * The publisher's topic rename map (`{ 'orders.v1': 'staging.orders.v1' }`), when events were published
     * to other topics than their schema names: it tells the loader which table holds which event types.
     */
    topicRenames: z.record(z.string()).default({}),
    /** Create/replace one typed view per event type whose topic is loaded. */
    views: z.boolean().default(true),
    /** Flush a batch at this many records (like the Snowflake connector's buffer.count.records). */
    batchRecords: positiveInt.default(10_000),
    /** … or at this many bytes of row JSON (buffer.size.bytes). */
    batchBytes: positiveInt.default(16_000_000),
    /** … or when the oldest buffered record is this old (buffer.flush.time). */
    flushMs: positiveInt.default(5_000),
    /** 'all': undecodable records go to the dead-letter topic and loading goes on; 'none': stop at the first. */
    errorsTolerance: z.enum(['all', 'none']).default('all'),
    /** Dead-letter topic (created when missing). */
    dlqTopic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'is not a valid Kafka topic name').default('multidispatch.dlq'),
    /** Where a group with nothing in the warehouse starts. */
    startFrom: z.enum(['earliest', 'latest']).default('earliest'),
    /** Backoff while the warehouse is unavailable. */
    retryInitialMs: positiveInt.default(500),
    retryMaxMs: positiveInt.default(30_000),
    /** Give up (and stop with an error) after the warehouse was unavailable this long; 0 waits forever. */
    retryTimeoutMs: z.number().int().min(0).default(0),
    /** Progress log interval in the long-running mode (per-partition lag, rows/s). */
    logIntervalMs: positiveInt.default(30_000),
    /**
     * Consumer group session timeout. A loader that died without leaving the group (SIGKILL, power loss) holds
     * its partitions until this expires; the broker's group.min.session.timeout.ms (6 s by default) is the floor.
     */
    sessionTimeoutMs: z.number().int().min(1000).default(30_000),
    /** On stop, how long to keep retrying the open batch while the warehouse is unavailable before abandoning it. */
    shutdownTimeoutMs: positiveInt.default(30_000),
    /** Also commit the loaded offsets to Kafka (only so lag tools can see them; the warehouse is the truth). */
    commitToKafka: z.boolean().default(true),
  })
  .strict()
  .refine((o) => (o.schema === undefined) !== (o.catalogue === undefined), {
    message: 'give either schema or catalogue, not both',
    path: ['schema'],
  })
  .refine((o) => (o.topics && o.topics.length > 0) !== (o.topicPattern !== undefined), {
    message: 'give either topics (a non-empty list) or topicPattern, not both',
    path: ['topics'],
  });

export type LoaderOptions = z.input<typeof loaderOptionsSchema>;
export type ResolvedLoaderOptions = z.output<typeof loaderOptionsSchema>;
