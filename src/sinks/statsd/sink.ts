import HotShots, { type StatsD } from 'hot-shots';
import type { CounterIncrement, CounterSink } from '../types.js';

export interface HotShotsSinkOptions {
  host: string;
  port: number;
  protocol: 'udp' | 'uds' | 'tcp';
  /** Unix socket path when protocol is 'uds'. */
  path?: string;
  /** Client-side aggregation window: increments of one counter and tag set become one line per window. */
  aggregateMs: number;
  /** Lines are packed into datagrams up to this size (bytes). */
  maxPacketBytes: number;
  onError: (err: Error) => void;
}

/**
 * The StatsD side channel, over hot-shots with DogStatsD tags. Increments are aggregated client-side and
 * packed into datagrams, so the cost is far below one datagram per event. Socket errors (receiver down,
 * socket closed) go to `onError`; nothing here throws into publish().
 */
export class HotShotsSink implements CounterSink {
  private readonly client: StatsD;
  errors = 0;
  increments = 0;

  constructor(options: HotShotsSinkOptions) {
    const onError = (err: Error): void => {
      this.errors++;
      try {
        options.onError(err);
      } catch {
        // A throwing hook must not take the publisher down with it.
      }
    };
    this.client = new HotShots({
      host: options.host,
      port: options.port,
      protocol: options.protocol,
      ...(options.path ? { path: options.path } : {}),
      maxBufferSize: options.maxPacketBytes,
      bufferFlushInterval: Math.max(50, Math.min(options.aggregateMs || 100, 1000)),
      ...(options.aggregateMs > 0 ? { aggregation: { flushInterval: options.aggregateMs, maxContexts: 10_000 } } : {}),
      errorHandler: onError,
      cacheDns: true,
      telegraf: false,
    });
  }

  increment(counter: CounterIncrement): void {
    this.increments++;
    try {
      this.client.increment(counter.name, counter.value, counter.tags);
    } catch {
      this.errors++;
    }
  }

  flush(): Promise<void> {
    return new Promise((resolve) => {
      this.client.flush(() => resolve());
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.client.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
