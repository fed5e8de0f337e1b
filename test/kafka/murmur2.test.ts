import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur2, partitionForKey, toPositive } from '../../src/kafka/murmur2.js';

describe('murmur2', () => {
  // The vectors of Kafka's own UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils).
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];

  for (const [key, expected] of vectors) {
    it(`murmur2(${JSON.stringify(key)}) = ${expected}`, () => {
      assert.equal(murmur2(Buffer.from(key)), expected);
    });
  }

  it('toPositive clears the sign bit as Java does (not Math.abs)', () => {
    assert.equal(toPositive(-973932308), -973932308 & 0x7fffffff);
    assert.equal(toPositive(-2147483648), 0);
    assert.equal(partitionForKey('21', 7), (-973932308 & 0x7fffffff) % 7);
  });
});
