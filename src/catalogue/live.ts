import { TopologyError } from '../errors.js';
import { missingTopics } from '../kafka/admin.js';
import type { KafkaClient, KafkaConsumer } from '../kafka/port.js';
import { readFromStart } from '../kafka/topic-reader.js';
import type { Logger } from '../log.js';
import { builtinBundle } from '../schema/builtin.js';
import { EventRegistry, type RecordSchemas, type RuleOverrides } from '../schema/registry.js';
import { bundleOf, decodeEntry, versionKey, type CatalogueEntry } from './entry.js';

export interface LiveCatalogueOptions {
  topic: string;
  /** Keep reading the topic after catching up, so versions pushed later are used without a restart. Default true. */
  follow?: boolean;
  /** The publisher's topic rename map, applied to every version's rules (as the loader's `topicRenames`). */
  overrides?: RuleOverrides;
  log?: Logger;
}

/**
 * The event catalogue as a consumer sees it while running: every version of every event type read from the
 * catalogue topic, followed live. A record is decoded with the version its `md-schema-fingerprint` header names, so
 * records written with an older schema keep decoding with their own; a record without the header gets the type's
 * latest version. derive's own record types (metric values and alerts) are always known.
 */
export class LiveCatalogue implements RecordSchemas {
  readonly topic: string;
  private readonly versions = new Map<string, CatalogueEntry>();
  private readonly latest = new Map<string, CatalogueEntry>();
  private readonly registries = new Map<string, EventRegistry>();
  private readonly builtin: EventRegistry;
  private readonly listeners: Array<(changed: CatalogueEntry[]) => void> = [];
  private readonly waiters = new Set<() => void>();
  private consumer: KafkaConsumer | undefined;
  private readonly overrides: RuleOverrides;
  private readonly log: Logger | undefined;
  private unreadable = 0;

  private constructor(options: LiveCatalogueOptions) {
    this.topic = options.topic;
    this.overrides = options.overrides ?? {};
    this.log = options.log;
    this.builtin = new EventRegistry(builtinBundle(), { topics: this.overrides.topics ?? {} });
  }

  /**
   * Reads the catalogue topic to its current end and, unless `follow: false`, keeps following it. Throws
   * TopologyError when the topic does not exist.
   *
   * @example
   * const catalogue = await LiveCatalogue.open(kafka, { topic: 'multidispatch.catalogue' });
   * const registry = catalogue.registryFor('orders.v1.OrderPlaced', fingerprintHeader);
   */
  static async open(kafka: KafkaClient, options: LiveCatalogueOptions): Promise<LiveCatalogue> {
    const live = new LiveCatalogue(options);
    const admin = kafka.admin();
    await admin.connect();
    try {
      if ((await missingTopics(admin, [options.topic], 'DESCRIBE and READ')).length > 0) {
        throw new TopologyError(options.topic, `catalogue topic ${options.topic} not found on the cluster: push the schemas first (multidispatch catalogue push --proto DIR)`);
      }
    } finally {
      await admin.disconnect();
    }
    // A short fetch wait: a pushed version reaches a waiting record sooner, and disconnecting (when the consumer using
    // the catalogue stops) does not wait out a 5-second long poll.
    const read = await readFromStart(kafka, { topics: [options.topic], group: 'multidispatch-catalogue', follow: options.follow ?? true, maxWaitTimeInMs: 250 }, (batch) => {
      const changed: CatalogueEntry[] = [];
      for (const m of batch.messages) {
        if (!m.key || !m.value) continue;
        const e = live.apply(m.key.toString('utf8'), m.value, `${batch.topic}[${batch.partition}]@${m.offset}`);
        if (e) changed.push(e);
      }
      if (changed.length > 0) live.changed(changed);
    });
    live.consumer = read.consumer;
    try {
      await read.caughtUp;
    } catch (err) {
      await live.close();
      throw err;
    }
    return live;
  }

  private apply(key: string, value: Buffer, where: string): CatalogueEntry | undefined {
    let e: CatalogueEntry;
    try {
      e = decodeEntry(value);
    } catch (err) {
      this.unreadable++;
      this.log?.warn({ topic: this.topic, key, at: where, reason: (err as Error).message }, 'catalogue record is not a catalogue entry; ignored');
      return undefined;
    }
    const vKey = versionKey(e.type, e.fingerprint);
    if (key === vKey) {
      this.versions.set(vKey, e);
      this.registries.delete(vKey);
    } else if (key === e.type) {
      this.latest.set(e.type, e);
      if (!this.versions.has(vKey)) this.versions.set(vKey, e);
    } else return undefined;
    return e;
  }

  private changed(entries: CatalogueEntry[]): void {
    for (const w of [...this.waiters]) w();
    for (const l of this.listeners) {
      try {
        l(entries);
      } catch (err) {
        this.log?.error({ err: (err as Error).message }, 'catalogue change listener failed');
      }
    }
  }

  /** Called with the entries read after the initial catch-up (new versions, new types, deprecations). */
  onChange(listener: (changed: CatalogueEntry[]) => void): void {
    this.listeners.push(listener);
  }

  /** The latest version of every type. */
  latestEntries(): CatalogueEntry[] {
    return [...this.latest.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  latestOf(type: string): CatalogueEntry | undefined {
    return this.latest.get(type);
  }

  has(type: string): boolean {
    return this.latest.has(type) || this.builtin.has(type);
  }

  /** Whether the version `fingerprint` of `type` is known (no fingerprint: whether the type is). */
  knows(type: string, fingerprint: string | undefined): boolean {
    if (this.builtin.has(type)) return true;
    return fingerprint === undefined ? this.latest.has(type) : this.versions.has(versionKey(type, fingerprint));
  }

  /** The registry that decodes `type` at `fingerprint` (its latest version when undefined), or undefined. */
  registryFor(type: string, fingerprint: string | undefined): EventRegistry | undefined {
    if (this.builtin.has(type)) return this.builtin;
    const entry = fingerprint === undefined ? this.latest.get(type) : this.versions.get(versionKey(type, fingerprint));
    if (!entry) return undefined;
    const key = versionKey(entry.type, entry.fingerprint);
    let registry = this.registries.get(key);
    if (!registry) {
      registry = new EventRegistry(bundleOf(entry), this.overrides);
      this.registries.set(key, registry);
    }
    return registry;
  }

  /** RecordSchemas: the loader's JSON decoder for one record, or why there is none. */
  jsonDecoder(eventType: string, fingerprint: string | undefined): ((bytes: Uint8Array) => string) | { errorClass: 'unknown-event-type' | 'unknown-schema-version'; reason: string } {
    const registry = this.registryFor(eventType, fingerprint);
    if (registry) return registry.jsonDecoder(eventType, undefined);
    if (!this.latest.has(eventType) && fingerprint === undefined) {
      return { errorClass: 'unknown-event-type', reason: `unknown event type ${JSON.stringify(eventType.slice(0, 200))} (not in catalogue ${this.topic})` };
    }
    return {
      errorClass: this.latest.has(eventType) ? 'unknown-schema-version' : 'unknown-event-type',
      reason: `schema version ${fingerprint} of ${JSON.stringify(eventType.slice(0, 200))} is not in catalogue ${this.topic}${this.latest.has(eventType) ? '' : ' (nor is the type)'}: push it with \`multidispatch catalogue push\``,
    };
  }

  /**
   * Resolves once every `type@fingerprint` in `wanted` is known, or after `ms` (whichever first); returns those
   * still unknown.
   */
  async waitFor(wanted: ReadonlyArray<{ type: string; fingerprint: string | undefined }>, ms: number, signal?: { aborted: boolean }): Promise<Array<{ type: string; fingerprint: string | undefined }>> {
    const missing = () => wanted.filter((w) => !this.knows(w.type, w.fingerprint));
    if (missing().length === 0 || ms <= 0 || !this.consumer) return missing();
    const deadline = Date.now() + ms;
    while (missing().length > 0 && Date.now() < deadline && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(250, Math.max(0, deadline - Date.now())));
        this.waiters.add(done);
      });
    }
    return missing();
  }

  /** Records of the topic that were not catalogue entries. */
  get unreadableRecords(): number {
    return this.unreadable;
  }

  async close(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    for (const w of [...this.waiters]) w();
    await c?.disconnect().catch(() => undefined);
  }
}
