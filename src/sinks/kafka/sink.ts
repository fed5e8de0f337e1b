import { BufferFullError, ClosedError, DeliveryTimeoutError, KafkaAuthenticationError, KafkaAuthorizationError, KafkaDeliveryError, KafkaUnavailableError } from '../../errors.js';
import { type ProducerPort, type ProduceRecord, type RecordPosition } from '../../kafka/producer.js';
import type { SendListener } from '../types.js';

export interface KafkaSinkOptions {
  lingerMs: number;
  maxBatchCount: number;
  maxBatchBytes: number;
  maxBufferedEvents: number;
  maxBufferedBytes: number;
  overflow: 'reject' | 'block';
  deliveryTimeoutMs: number;
  retryBackoffMs: number;
}

export interface KafkaSinkStats {
  queued: number;
  inFlight: number;
  delivered: number;
  failed: number;
  dropped: number;
  batches: number;
  retries: number;
}

interface Pending {
  record: ProduceRecord;
  bytes: number;
  acceptedAt: number;
  resolve: (value: unknown) => void;
  reject: (e: Error) => void;
  listener: SendListener<unknown> | undefined;
}

/** Settles one record's promise, through its listener when it has one. */
function ack(p: Pending, position: RecordPosition): void {
  if (p.listener === undefined) p.resolve(position);
  else {
    try {
      p.resolve(p.listener.acked(position));
    } catch (err) {
      p.reject(err as Error);
    }
  }
}
function fail(p: Pending, err: Error): void {
  p.listener?.failed(err);
  p.reject(err);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * Batches records across send() calls (kafkajs has no linger), with one batch in flight at a time so that
 * retries resend exactly the same batch and the idempotent producer can deduplicate them. Every send()
 * promise settles: resolved with the record's position once the broker acknowledged it (acks=all), or
 * rejected with the reason once the error is not retriable or deliveryTimeoutMs has passed.
 */
export class KafkaSink {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private inFlight = 0;
  private inFlightBytes = 0;
  private sending = false;
  private timer: NodeJS.Timeout | undefined;
  private accepted = 0;
  private settled = 0;
  private flushTargets: Array<{ target: number; resolve: () => void }> = [];
  private spaceWaiters: Array<() => void> = [];
  private forceSend = 0;
  private closed = false;
  /** Ref'd while any accepted record is unsettled, so that `await publish(...)` keeps the process alive. */
  private keepAlive: NodeJS.Timeout | undefined;
  readonly stats: KafkaSinkStats = { queued: 0, inFlight: 0, delivered: 0, failed: 0, dropped: 0, batches: 0, retries: 0 };

  constructor(
    private readonly port: ProducerPort,
    private readonly options: KafkaSinkOptions,
  ) {}

  /** Accepts a record; throws synchronously (BufferFullError, ClosedError) when it cannot be accepted. */
  send(record: ProduceRecord): Promise<RecordPosition>;
  send<R>(record: ProduceRecord, listener: SendListener<R>): Promise<R>;
  send(record: ProduceRecord, listener?: SendListener<unknown>): Promise<unknown> {
    if (this.closed) throw new ClosedError();
    const bytes = record.value.length + (record.key?.length ?? 0) + 64;
    if (this.isFull(bytes)) {
      if (this.options.overflow === 'reject') {
        this.stats.dropped++;
        throw new BufferFullError(this.limitText());
      }
      return this.waitForSpace(bytes).then(() => {
        try {
          return listener ? this.send(record, listener) : this.send(record);
        } catch (err) {
          // Refused once there was room (closed meanwhile, or full again): the listener hears of it as of any failure.
          listener?.failed(err as Error);
          throw err;
        }
      });
    }
    return new Promise<unknown>((resolve, reject) => {
      this.queue.push({ record, bytes, acceptedAt: Date.now(), resolve, reject, listener });
      this.queuedBytes += bytes;
      this.accepted++;
      this.holdEventLoop();
      this.stats.queued = this.queue.length;
      if (this.queue.length >= this.options.maxBatchCount || this.queuedBytes >= this.options.maxBatchBytes || this.options.lingerMs === 0) this.kick();
      else if (!this.timer && !this.sending) this.timer = setTimeout(() => this.onTimer(), this.options.lingerMs);
    });
  }

  /** Resolves when every record accepted before the call has settled (acknowledged or failed). */
  flush(): Promise<void> {
    if (this.settled >= this.accepted) return Promise.resolve();
    const target = this.accepted;
    this.forceSend++;
    this.kick();
    return new Promise<void>((resolve) => this.flushTargets.push({ target, resolve: () => { this.forceSend--; resolve(); } }));
  }

  /** Flushes, then refuses new records and releases the producer. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.releaseEventLoop();
    await this.port.disconnect();
  }

  /**
   * The retry backoff and kafkajs' reconnects wait on unref'd timers or on sockets that come and go; without
   * this a script that awaits a publish to an unreachable broker would see Node exit (code 13, unsettled
   * top-level await) before deliveryTimeoutMs could reject it. Idle publishers hold nothing.
   */
  private holdEventLoop(): void {
    this.keepAlive ??= setInterval(() => undefined, 1 << 30);
  }

  private releaseEventLoop(): void {
    if (this.keepAlive && (this.closed || this.settled >= this.accepted)) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
  }

  private isFull(bytes: number): boolean {
    const events = this.queue.length + this.inFlight;
    return events >= this.options.maxBufferedEvents || this.queuedBytes + this.inFlightBytes + bytes > this.options.maxBufferedBytes;
  }

  private limitText(): string {
    return `maxBufferedEvents=${this.options.maxBufferedEvents}, maxBufferedBytes=${this.options.maxBufferedBytes}; ${this.queue.length + this.inFlight} events waiting`;
  }

  private waitForSpace(bytes: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.closed || !this.isFull(bytes)) resolve();
        else this.spaceWaiters.push(check);
      };
      check();
    });
  }

  private onTimer(): void {
    this.timer = undefined;
    this.kick();
  }

  private kick(): void {
    if (this.sending) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.sending = true;
    void this.run().finally(() => {
      this.sending = false;
      if (this.queue.length > 0 && this.isReady()) this.kick();
      else if (this.queue.length > 0 && !this.timer) {
        const wait = Math.max(0, this.options.lingerMs - (Date.now() - this.queue[0]!.acceptedAt));
        this.timer = setTimeout(() => this.onTimer(), wait);
      }
    });
  }

  private isReady(): boolean {
    if (this.queue.length === 0) return false;
    return (
      this.forceSend > 0 ||
      this.queue.length >= this.options.maxBatchCount ||
      this.queuedBytes >= this.options.maxBatchBytes ||
      Date.now() - this.queue[0]!.acceptedAt >= this.options.lingerMs
    );
  }

  private async run(): Promise<void> {
    while (this.isReady()) {
      const batch = this.take();
      await this.deliver(batch);
    }
  }

  private take(): Pending[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < this.options.maxBatchCount && (n === 0 || bytes + this.queue[n]!.bytes <= this.options.maxBatchBytes)) {
      bytes += this.queue[n]!.bytes;
      n++;
    }
    const batch = this.queue.splice(0, n);
    this.queuedBytes -= bytes;
    this.inFlight += n;
    this.inFlightBytes += bytes;
    this.stats.queued = this.queue.length;
    this.stats.inFlight = this.inFlight;
    return batch;
  }

  private async deliver(batch: Pending[]): Promise<void> {
    this.stats.batches++;
    let backoff = this.options.retryBackoffMs;
    let withPartitions: Array<ProduceRecord & { partition: number }> | undefined;
    for (;;) {
      try {
        withPartitions ??= await this.assignPartitions(batch);
        const positions = await this.port.send(withPartitions);
        this.stats.delivered += batch.length;
        for (let i = 0; i < batch.length; i++) ack(batch[i]!, positions[i]!);
        break;
      } catch (err) {
        if (err instanceof KafkaDeliveryError) {
          await this.failTopic(batch, err);
          if (batch.length === 0) break;
          continue;
        }
        // A missing ACL or failed authentication will not heal by retrying: fail fast with the typed error.
        const typed = this.port.classify(err, { topics: [...new Set(batch.map((p) => p.record.topic))], operation: 'WRITE' });
        const denied = typed instanceof KafkaAuthorizationError || typed instanceof KafkaAuthenticationError;
        // An unreachable cluster may come back: retried until deliveryTimeoutMs, whatever the client calls its error.
        const retriable = !denied && (this.port.isRetriable(err) || typed instanceof KafkaUnavailableError);
        const waited = Date.now() - batch[0]!.acceptedAt;
        if (!retriable || waited + backoff > this.options.deliveryTimeoutMs) {
          const topic = batch[0]!.record.topic;
          const error = denied ? typed : retriable
            ? new DeliveryTimeoutError(topic, this.options.deliveryTimeoutMs, err)
            : new KafkaDeliveryError(topic, (err as Error).message ?? String(err), { cause: err });
          this.stats.failed += batch.length;
          for (const p of batch) fail(p, error as Error);
          // The abandoned batch may or may not have been written; a new producer id keeps later batches
          // from being taken for its duplicates.
          await this.port.reset();
          break;
        }
        this.stats.retries++;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
    this.settle(batch);
  }

  /** Rejects the records of a topic that cannot be written to (missing topic) and keeps the rest. */
  private async failTopic(batch: Pending[], err: KafkaDeliveryError): Promise<void> {
    for (let i = batch.length - 1; i >= 0; i--) {
      if (batch[i]!.record.topic === err.topic) {
        const [p] = batch.splice(i, 1);
        this.stats.failed++;
        fail(p!, err);
        this.settleOne(p!);
      }
    }
  }

  /** Chooses each record's partition once, in place, so that a retry resends exactly the same batch. */
  private async assignPartitions(batch: Pending[]): Promise<Array<ProduceRecord & { partition: number }>> {
    let topic = '';
    let count = 0;
    const out = new Array<ProduceRecord & { partition: number }>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!.record;
      if (r.topic !== topic) {
        topic = r.topic;
        count = await this.port.partitionCount(topic);
      }
      r.partition ??= this.port.partitionFor(r.key, count);
      out[i] = r as ProduceRecord & { partition: number };
    }
    return out;
  }

  private settleOne(p: Pending): void {
    this.inFlight--;
    this.inFlightBytes -= p.bytes;
    this.settled++;
    this.releaseEventLoop();
  }

  private settle(batch: Pending[]): void {
    for (const p of batch) this.settleOne(p);
    this.stats.inFlight = this.inFlight;
    if (this.flushTargets.length > 0) {
      const still: typeof this.flushTargets = [];
      for (const f of this.flushTargets) (this.settled >= f.target ? f.resolve() : still.push(f));
      this.flushTargets = still;
    }
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w();
  }
}
