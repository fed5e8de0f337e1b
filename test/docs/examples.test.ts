import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ensureTopics } from '../../src/kafka/admin.js';
import { brokers, kafkaClient } from '../support/kafka.js';

/**
 * Every ```ts run block in README.md and docs/*.md is a program: it is written next to the package (so
 * `import ... from 'multidispatch'` resolves to this package's build) and run against the suite broker. Every
 * ```js definitions block is a `multidispatch derive --definitions` module: it is imported and its metrics (and
 * tables) validated against the example schema, as the CLI does.
 */
async function runnableBlocks(): Promise<Array<{ file: string; index: number; code: string }>> {
  const files = ['README.md', ...(await readdir('docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
  const out: Array<{ file: string; index: number; code: string }> = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    let index = 0;
    for (const m of text.matchAll(/^```(ts run|js definitions)\n([\s\S]*?)^```$/gm)) {
      const code =
        m[1] === 'ts run'
          ? m[2]!
          : `import { defineMetrics } from 'multidispatch';\nimport { schema } from 'multidispatch/examples';\n` +
            `const mod = await import('data:text/javascript;base64,${Buffer.from(m[2]!.replace(/from 'multidispatch'/g, `from '${new URL('../../dist/src/index.js', import.meta.url).href}'`)).toString('base64')}');\n` +
            `const metrics = defineMetrics(schema, mod.default ?? mod.metrics, { tables: mod.tables ?? [] });\n` +
            `if (metrics.length === 0) throw new Error('no metric definitions');\n`;
      out.push({ file, index: index++, code });
    }
  }
  return out;
}

describe('code examples in the docs run', async () => {
  const blocks = await runnableBlocks();
  it('there are runnable examples to check', () => assert.ok(blocks.length >= 3, `found ${blocks.length}`));

  for (const block of blocks) {
    it(`${block.file} example ${block.index + 1}`, async (t) => {
      await ensureTopics(kafkaClient(), [{ topic: 'orders.v1', partitions: 3 }]);
      const dir = join('.tmp-doc-examples');
      await mkdir(dir, { recursive: true });
      const file = join(dir, `${block.file.replace(/[^a-z0-9]+/gi, '_')}_${block.index}.mts`);
      await writeFile(file, block.code);
      t.after(() => rm(file, { force: true }));
      const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', env: { ...process.env, KAFKA_BROKERS: brokers().join(',') }, timeout: 60_000 });
      assert.equal(r.status, 0, `example exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
    });
  }
});
