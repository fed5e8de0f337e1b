import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { ensureKafkaJars } from '../../src/dev/kafka.js';
import { murmur2, partitionForKey } from '../../src/kafka/murmur2.js';

describe('partitioning agrees with the real Java client', () => {
  it('murmur2 and the partition of 2,000 keys equal kafka-clients Utils.murmur2 / toPositive(...) % n', async () => {
    const { libDir } = await ensureKafkaJars();
    const keys = [
      ...Array.from({ length: 1990 }, (_, i) => `order-${i * 7919}`),
      '', 'a', 'ab', 'abc', 'ümlaut-ключ-键', '🍕 pizza', 'x'.repeat(1000), 'user_0042', '21', 'foobar',
    ];
    const counts = [1, 3, 6, 7, 12, 100];
    const java = spawnSync('java', ['-cp', join(libDir, '*'), new URL('../support/JavaPartitioner.java', import.meta.url).pathname, ...counts.map(String)], {
      input: `${keys.join('\n')}\n`,
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    });
    assert.equal(java.status, 0, `java failed: ${java.stderr}`);
    const lines = java.stdout.trim().split('\n');
    assert.equal(lines.length, keys.length);
    keys.forEach((key, i) => {
      const [hash, ...partitions] = lines[i]!.split(' ').map(Number);
      assert.equal(murmur2(Buffer.from(key, 'utf8')), hash, `murmur2(${JSON.stringify(key.slice(0, 20))})`);
      counts.forEach((n, j) => assert.equal(partitionForKey(key, n), partitions[j], `partition of ${JSON.stringify(key.slice(0, 20))} among ${n}`));
    });
  });
});
