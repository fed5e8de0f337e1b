/**
 * Polls `cond` every 50 ms until it holds; after `ms` throws "timed out waiting for <what>". `what` may be a
 * function, to describe the state at the moment of the timeout (a log tail, counters).
 */
export async function until(cond: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
