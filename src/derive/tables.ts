import type { IncomingRecord } from '../kafka/port.js';
import type { Logger } from '../log.js';
import { HEADER } from '../schema/envelope.js';
import type { EventRegistry } from '../schema/registry.js';
import type { ResolvedTable } from './definitions.js';

/**
 * Rows of the tables metrics join with, kept current by reading their (compacted) topics from the beginning
 * and following them: the latest row per key, deleted by a tombstone. Every instance reads all of them.
 */
export class TableState {
  /** table → partition → key → row; global tables keep everything under partition -1. */
  private readonly rows = new Map<string, Map<number, Map<string, Record<string, unknown>>>>();
  records = 0;

  constructor(
    readonly tables: ResolvedTable[],
    private readonly registry: EventRegistry,
    private readonly log: Logger,
  ) {
    for (const t of tables) this.rows.set(t.name, new Map());
  }

  apply(table: ResolvedTable, partition: number, key: string, row: Record<string, unknown> | undefined): void {
    const byPartition = this.rows.get(table.name)!;
    const p = table.global ? -1 : partition;
    let m = byPartition.get(p);
    if (!m) byPartition.set(p, (m = new Map()));
    if (row) m.set(key, row);
    else m.delete(key);
  }

  /** Applies one record of a table's topic: a row, or a tombstone that deletes it. */
  applyRecord(table: ResolvedTable, partition: number, m: IncomingRecord): void {
    this.records++;
    const key = m.key?.toString();
    if (key === undefined) return;
    if (!m.value) return this.apply(table, partition, key, undefined);
    const type = m.headers?.[HEADER.eventType]?.toString() ?? table.from;
    if (type !== table.from) {
      this.log.warn({ table: table.name, type, offset: m.offset }, `table record is a ${type}, not a ${table.from}; skipped`);
      return;
    }
    try {
      this.apply(table, partition, key, this.registry.decode(type, m.value));
    } catch (err) {
      this.log.warn({ table: table.name, partition, offset: m.offset, err: (err as Error).message }, 'table record could not be decoded; skipped');
    }
  }

  lookup = (table: ResolvedTable, key: string, partition: number): Record<string, unknown> | undefined =>
    this.rows.get(table.name)?.get(table.global ? -1 : partition)?.get(key);

  size(table: string): number {
    let n = 0;
    for (const m of this.rows.get(table)?.values() ?? []) n += m.size;
    return n;
  }
}
