import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../support/loader.js';
import { killAndRestart } from '../support/lake-faults.js';

describe('lake faults (real broker)', () => {
  it('file system: SIGKILL 5 times at random points, restarted each time: exactly N rows, N distinct ids, no partial or overlapping file', async (t) => {
    const lake = join(tempDir(t, 'md-lake-kill-'), 'lake');
    await killAndRestart(t, { location: () => `lake:${lake}`, local: lake, sync: async () => undefined, n: 20_000 });
  });
});
