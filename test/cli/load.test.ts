/**
 * `multidispatch load` through the built CLI (bin/multidispatch.js imports dist/, so `npm run build` must have
 * run; `npm test` does that), against the suite broker.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { brokers, randomSuffix } from '../support/kafka.js';
import { tempDir } from '../support/loader.js';

const TIMEOUT_MS = 60_000;

const load = (args: string[]) =>
  spawnSync(process.execPath, ['bin/multidispatch.js', 'load', ...args], {
    encoding: 'utf8',
    env: { ...process.env, KAFKA_BROKERS: brokers().join(',') },
    timeout: TIMEOUT_MS,
  });

/** stderr without the loader's JSON log lines: what a person reads. */
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() && !l.startsWith('{'));

describe('multidispatch load', () => {
  it('--once on a topic that does not exist exits 2 with one line naming it, having closed its connections', (t) => {
    const topic = `md-missing-${randomSuffix()}`;
    const r = load(['--once', '--topic', topic, '--warehouse', `duckdb:${join(tempDir(t), 'w.duckdb')}`]);
    assert.equal(r.signal, null, `did not exit within ${TIMEOUT_MS / 1000} s (killed by ${r.signal}); stderr: ${r.stderr}`);
    assert.equal(r.status, 2, r.stderr);
    assert.deepEqual(errorLines(r.stderr), [`multidispatch: topic ${topic} not found on the cluster`]);
  });

  it('--topic-pattern that matches no topic exits 2 with one line naming the pattern', (t) => {
    const pattern = `^md-missing-${randomSuffix()}$`;
    const r = load(['--once', '--topic-pattern', pattern, '--warehouse', `duckdb:${join(tempDir(t), 'w.duckdb')}`]);
    assert.equal(r.signal, null, `did not exit within ${TIMEOUT_MS / 1000} s (killed by ${r.signal}); stderr: ${r.stderr}`);
    assert.equal(r.status, 2, r.stderr);
    assert.deepEqual(errorLines(r.stderr), [`multidispatch: topicPattern /${pattern}/ matches no topic on the cluster`]);
  });
});
