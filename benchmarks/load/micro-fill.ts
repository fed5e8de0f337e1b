// Fills a topic for micro.ts (dev use): BROKERS, TOPIC, N.
import { createPublisher } from 'multidispatch';
import { schema } from 'multidispatch/examples';
import { Kafka, logLevel } from 'kafkajs';
import { publishAll } from '../lib/prefill.js';
import { loadEventPool } from './events.js';
const brokers = process.env.BROKERS!;
const topic = process.env.TOPIC!;
const n = Number(process.env.N ?? 100000);
const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 6, replicationFactor: 1 }] });
await admin.disconnect();
const pool = loadEventPool();
const publisher = createPublisher({ schema, producer: 'bench-load', kafka: { brokers: [brokers] }, statsd: false, topics: { 'orders.v1': topic } });
const r = await publishAll(publisher, n, 20000, (i) => { const e = pool[i % pool.length]!; return publisher.publish(e.type, e.event as never); });
console.log(r);
process.exit(0);
