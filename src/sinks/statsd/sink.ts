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
 * The StatsD side channel, over hot-shots with DogStatsD tags. Increments are summed client-side per counter
 * key for aggregateMs and packed into datagrams, so the cost is far below one datagram per event. Socket errors (receiver down,
 * socket closed) go to `onError`; nothing here throws into publish().
 */
export class HotShotsSink implements CounterSink {
  private readonly client: StatsD;
  /** Pending sums per counter key, sent every aggregateMs (our own aggregation: one map update per event). */
  private readonly pending = new Map<string, { counter: CounterIncrement; n: number }>();
  private readonly timer: NodeJS.Timeout | undefined;
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
      // hot-shots' own aggregation is off: the sink sums by a precomputed key, which costs less per event.
      errorHandler: onError,
      cacheDns: true,
      telegraf: false,
    });
    if (options.aggregateMs > 0) {
      this.timer = setInterval(() => this.drain(), options.aggregateMs);
      this.timer.unref();
    }
  }

  increment(counter: CounterIncrement): void {
    this.increments++;
    if (this.timer) {
      const p = this.pending.get(counter.key);
      if (p) p.n += counter.value;
      else this.pending.set(counter.key, { counter, n: counter.value });
      return;
    }
    this.send(counter, counter.value);
  }

  /** A gauge line, sent as it is (levels are not summed). Name and tags must already be sanitised. */
  gauge(name: string, value: number, tags: Readonly<Record<string, string>>): void {
    try {
      this.client.gauge(name, value, tags as Record<string, string>);
    } catch {
      this.errors++;
    }
  }

  private send(counter: CounterIncrement, n: number): void {
    try {
      this.client.increment(counter.name, n, counter.tags as Record<string, string>);
    } catch {
      this.errors++;
    }
  }

  /** Hands every pending sum to hot-shots, which packs the lines into datagrams. */
  private drain(): void {
    for (const { counter, n } of this.pending.values()) this.send(counter, n);
    this.pending.clear();
  }

  flush(): Promise<void> {
    this.drain();
    return new Promise((resolve) => {
      this.client.flush(() => resolve());
    });
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.drain();
    return new Promise((resolve) => {
      try {
        this.client.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
