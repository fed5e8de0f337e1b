import { UsageError } from '../errors.js';
import { parseBrokerList } from '../kafka/client.js';
import { kafkaStatus } from '../dev/kafka.js';
import { defaultDevDir } from '../dev/paths.js';

/**
 * Brokers for a command, in the package's merge order: the --brokers flag, then KAFKA_BROKERS, then the
 * broker `multidispatch dev up` started in this folder.
 */
export function resolveBrokers(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (flag) return parseBrokerList(flag);
  if (env.KAFKA_BROKERS) return parseBrokerList(env.KAFKA_BROKERS);
  const status = kafkaStatus(defaultDevDir(env));
  if (status.running && status.state) return parseBrokerList(status.state.brokers);
  throw new UsageError('no Kafka brokers: pass --brokers host:port, set KAFKA_BROKERS, or start a local broker with `multidispatch dev up`');
}
