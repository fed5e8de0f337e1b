/**
 * Caps the number of distinct values each tag of each metric may take. Values past the cap are reported
 * as `other` and counted, so one mislabelled field cannot explode the metrics backend's series count.
 */
export class CardinalityGuard {
  private readonly seen = new Map<string, Set<string>>();
  /** Tag values that were replaced by `other`. */
  overflows = 0;

  constructor(private readonly maxValuesPerTag: number) {}

  admit(metric: string, tag: string, value: string): string {
    const key = `${metric}\u0000${tag}`;
    let values = this.seen.get(key);
    if (!values) this.seen.set(key, (values = new Set()));
    if (values.has(value)) return value;
    if (values.size < this.maxValuesPerTag) {
      values.add(value);
      return value;
    }
    this.overflows++;
    return 'other';
  }
}
