/**
 * The unit of derive's state and of its changelog: one key of one task, with its encoded state, or null when
 * the key was forgotten (a tombstone). A task's state is a set of such keys:
 *
 * | key                         | state                                                    |
 * |-----------------------------|----------------------------------------------------------|
 * | `c\|<clock>`                | a stream clock: largest event time, wall time of the last |
 * | `l\|<metric>`               | late events dropped                                       |
 * | `a\|<metric>\|<group>`      | an alert that is firing (empty; a tombstone when resolved) |
 * | `w\|<metric>\|<start>\0<group>` | an open tumbling/hopping window's accumulator (start: 15 digits) |
 * | `w\|<metric>\|<group>`      | a sliding-window group: its events and open evaluation points |
 * | `j\|<metric>\|l<key>` / `r<key>` | an absence join's waiting events / recent followers  |
 *
 * Metric names are `[a-z0-9_]`, so the first two `|` always split kind and metric from the rest.
 */
export type StateEntry = [key: string, value: Uint8Array | null];

/**
 * The committed state of a set of keys sharing a prefix (one metric's windows of one task), as the local store
 * holds it; keys are given and returned without the prefix. Reads are synchronous (a memory-mapped file).
 */
export interface StateReader {
  get(key: string): Uint8Array | undefined;
  /** Every key with its state, in key order (UTF-8 byte order). */
  range(): Iterable<[string, Uint8Array]>;
  /** The first key in key order, if any. */
  first(): string | undefined;
  count(): number;
}

/** Where a task's committed state can be read from: a reader per key prefix. */
export type StateSource = (prefix: string) => StateReader;

/** Splits `kind|metric|rest` (or `kind|rest` for clocks). */
export function parseStateKey(key: string): { kind: string; metric: string; rest: string } {
  const a = key.indexOf('|');
  if (a < 0) throw new RangeError(`state key ${JSON.stringify(key)} has no kind`);
  const kind = key.slice(0, a);
  if (kind === 'c') return { kind, metric: '', rest: key.slice(a + 1) };
  const b = key.indexOf('|', a + 1);
  if (b < 0) return { kind, metric: key.slice(a + 1), rest: '' };
  return { kind, metric: key.slice(a + 1, b), rest: key.slice(b + 1) };
}

/** The entries of the keys in `dirty` (each encoded now, null when gone), clearing `dirty`. */
export function drainChanges(dirty: Set<string>, encode: (key: string) => Uint8Array | null): StateEntry[] {
  const out: StateEntry[] = [];
  for (const key of dirty) out.push([key, encode(key)]);
  dirty.clear();
  return out;
}

/**
 * The live entries of a restored changelog partition (`latest`: the latest value per key, null deleted), streamed
 * into the engine without a second copy; `counted.n` is the number of entries yielded so far.
 */
export function* liveEntries(latest: ReadonlyMap<string, Uint8Array | null>, counted: { n: number } = { n: 0 }): Generator<[string, Uint8Array]> {
  for (const [key, value] of latest) {
    if (value === null) continue;
    counted.n++;
    yield [key, value];
  }
}
