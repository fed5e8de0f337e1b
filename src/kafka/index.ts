/**
 * Kafka connections as every command makes them: the configuration resolver (librdkafka property names), the client
 * behind the port, topic administration and Java's partitioner. `import … from 'multidispatch/kafka'`.
 */
export { resolveKafkaConfig, readKafkaProperties, connectionFromProperties, KAFKA_PROPERTIES, type KafkaConfigSources, type KafkaProperties } from '../config/kafka.js';
export { createKafkaClient, kafkaConnectionSchema, parseBrokerList, type KafkaConnection, type KafkaConnectionOptions } from './client.js';
export { classifyKafkaError, type KafkaErrorContext } from './errors.js';
export { createTopics, describeTopics, deleteTopics, listTopics, type TopicDescription, type TopicSpec } from './topics.js';
export { partitionForKey, murmur2, toPositive } from './murmur2.js';
export type * from './port.js';
export { KAFKA_CLIENTS } from './port.js';
