/** Pre-filling a benchmark's input topic with the project's own publisher (untimed). */

/**
 * Calls `publishOne(i)` for i = 0 … n − 1 with at most `maxOutstanding` publishes unsettled, yielding to the event
 * loop every 1,000; then flushes and closes the publisher. Returns how many publishes failed, and the first error.
 */
export async function publishAll(
  publisher: { flush(): Promise<unknown>; close(): Promise<unknown> },
  n: number,
  maxOutstanding: number,
  publishOne: (i: number) => Promise<unknown>,
): Promise<{ errors: number; firstError?: string }> {
  let errors = 0;
  let firstError: string | undefined;
  let outstanding = 0;
  let wake: (() => void) | undefined;
  for (let i = 0; i < n; i++) {
    if (outstanding >= maxOutstanding) await new Promise<void>((r) => (wake = r));
    if (i % 1000 === 0) await new Promise<void>((r) => setImmediate(r));
    outstanding++;
    publishOne(i)
      .then(
        () => undefined,
        (err: unknown) => {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        },
      )
      .finally(() => {
        outstanding--;
        if (wake && outstanding < maxOutstanding) {
          const w = wake;
          wake = undefined;
          w();
        }
      });
  }
  await publisher.flush();
  await publisher.close();
  return firstError === undefined ? { errors } : { errors, firstError };
}
