/** Messaging between a benchmark's parent (run.ts) and its child process (child.ts, started with fork). */

/** Sends a message to the parent and resolves once it is written. */
export const send = (msg: unknown): Promise<void> => new Promise<void>((res) => process.send!(msg, () => res()));

/** Resolves when the parent sends a message `{ type }`. */
export const waitFor = (type: string): Promise<void> =>
  new Promise<void>((res) => {
    const on = (m: { type?: string }) => {
      if (m?.type === type) {
        process.off('message', on);
        res();
      }
    };
    process.on('message', on);
  });
