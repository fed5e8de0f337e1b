/**
 * Where things live in the lake (keys relative to its root: a directory or an S3 prefix).
 *
 *   topic=<topic>/event_type=<Type>/date=YYYY-MM-DD/hour=HH/part-<partition>-<first>-<last>.parquet   data
 *   _multidispatch/commits/topic=<topic>/partition=<p>/<first>.json                                      commit markers
 *   _multidispatch/pending/topic=<topic>/partition=<p>/<first>-<last>-<writer>.json                      write intents
 *
 * A batch writes, per Kafka partition: its intent (the data keys it is about to write), the data files (each one
 * appears whole: a rename or a single PUT), then the commit marker, created only if no marker exists for the same
 * first offset, then deletes the intent. Every data file of the partition's batch is named by the batch's offset range
 * for the partition (first..last), so a topic partition's files never overlap. A reader that lists `**\/*.parquet`
 * never sees the `_multidispatch/` files (JSON, and a leading underscore that Hive, Spark and Trino skip).
 */

export const CONTROL_DIR = '_multidispatch';

export function dataKey(topic: string, eventType: string, date: string, hour: string, partition: number, first: string, last: string): string {
  return `topic=${topic}/event_type=${eventType}/date=${date}/hour=${hour}/part-${partition}-${first}-${last}.parquet`;
}

export function commitPrefix(topic: string): string {
  return `${CONTROL_DIR}/commits/topic=${topic}/`;
}

export function commitKey(topic: string, partition: number, first: string): string {
  return `${commitPrefix(topic)}partition=${partition}/${first}.json`;
}

export function pendingPrefix(topic: string): string {
  return `${CONTROL_DIR}/pending/topic=${topic}/`;
}

export function pendingKey(topic: string, partition: number, first: string, last: string, writer: string): string {
  return `${pendingPrefix(topic)}partition=${partition}/${first}-${last}-${writer}.json`;
}

/** `partition=3/120.json` (under commitPrefix) → { partition: 3, first: '120' }. */
export function parseCommitKey(rest: string): { partition: number; first: string } | undefined {
  const m = /^partition=(\d+)\/(\d+)\.json$/.exec(rest);
  return m ? { partition: Number(m[1]), first: m[2]! } : undefined;
}

/** `partition=3/120-199-w1a2b.json` (under pendingPrefix) → its parts. */
export function parsePendingKey(rest: string): { partition: number; first: string; last: string; writer: string } | undefined {
  const m = /^partition=(\d+)\/(\d+)-(\d+)-([A-Za-z0-9]+)\.json$/.exec(rest);
  return m ? { partition: Number(m[1]), first: m[2]!, last: m[3]!, writer: m[4]! } : undefined;
}

/** `part-3-120-199.parquet` → its parts. */
export function parseDataName(name: string): { partition: number; first: string; last: string } | undefined {
  const m = /^part-(\d+)-(\d+)-(\d+)\.parquet$/.exec(name);
  return m ? { partition: Number(m[1]), first: m[2]!, last: m[3]! } : undefined;
}

/** What a commit marker says. */
export interface CommitRecord {
  format: 'multidispatch-lake-commit/1';
  topic: string;
  partition: number;
  first: string;
  last: string;
  writer: string;
  committedAt: string;
  files: Array<{ key: string; rows: number; bytes: number }>;
}

/** What a write intent says: the data keys the writer is about to create. */
export interface PendingRecord {
  format: 'multidispatch-lake-pending/1';
  topic: string;
  partition: number;
  first: string;
  last: string;
  writer: string;
  files: string[];
}

/** The date= and hour= partition of an event: its occurred-at (UTC), else the Kafka record timestamp. */
export function hourOf(occurredAt: string | undefined, timestampMs: string): { date: string; hour: string } {
  if (occurredAt !== undefined && occurredAt.length >= 20 && occurredAt.charCodeAt(occurredAt.length - 1) === 90 /* Z */ && occurredAt[10] === 'T') {
    return { date: occurredAt.slice(0, 10), hour: occurredAt.slice(11, 13) };
  }
  let ms = occurredAt !== undefined ? Date.parse(occurredAt) : Number.NaN;
  if (Number.isNaN(ms)) ms = Number(timestampMs);
  if (!Number.isFinite(ms)) ms = 0;
  const iso = new Date(ms).toISOString();
  return { date: iso.slice(0, 10), hour: iso.slice(11, 13) };
}
