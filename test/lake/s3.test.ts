/**
 * The lake on a real S3-protocol server: gofakes3 (MIT, from the Go module proxy), started by src/dev/s3-server.ts,
 * driven by the AWS SDK for JavaScript v3. Objects are mirrored to a local directory to be read by DuckDB.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { startS3Server, type S3ServerHandle } from '../../src/dev/s3-server.js';
import { createLoader } from '../../src/index.js';
import { freshTopic, brokers } from '../support/kafka.js';
import { capturingLogger, tempDir } from '../support/loader.js';
import { lakeEvent, lakeSchema, publishLake, readWithPyarrow } from '../support/lake.js';
import { killAndRestart, lakeCounts } from '../support/lake-faults.js';

function client(s3: S3ServerHandle): S3Client {
  return new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
}

/** Copies every object under `prefix` to `local` (emptied first), keys relative to the prefix. */
async function mirror(s3: S3ServerHandle, prefix: string, local: string): Promise<number> {
  rmSync(local, { recursive: true, force: true });
  mkdirSync(local, { recursive: true });
  const c = client(s3);
  let token: string | undefined;
  let n = 0;
  try {
    do {
      const r = await c.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
      for (const o of r.Contents ?? []) {
        const body = await (await c.send(new GetObjectCommand({ Bucket: s3.bucket, Key: o.Key! }))).Body!.transformToByteArray();
        const file = join(local, o.Key!.slice(prefix.length + 1));
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, body);
        n++;
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  } finally {
    c.destroy();
  }
  return n;
}

// The loaders created in this process find credentials where the AWS SDK looks: the environment (gofakes3 does not check them).
process.env.AWS_ACCESS_KEY_ID ??= 'multidispatch-test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'multidispatch-test-secret';
process.env.AWS_REGION ??= 'us-east-1';

describe('the lake on S3 (gofakes3)', () => {
  it('loads into s3://bucket/prefix: every row once, read back (objects mirrored) by DuckDB and by pyarrow', async (t) => {
    const s3 = await startS3Server({ dataDir: tempDir(t, 'md-s3-') });
    t.after(() => s3.stop());
    const topic = await freshTopic(t, { partitions: 3 });
    const schema = await lakeSchema();
    const sent = await publishLake(schema, topic, Array.from({ length: 3000 }, (_, i) => lakeEvent(i)));
    const stats = await createLoader(
      {
        kafka: { brokers: brokers() }, schema, topics: [topic], group: `g-${topic}`, topicRenames: { 'lake.v1': topic }, dlqTopic: `${topic}.dlq`, batchRecords: 1000,
        warehouse: { type: 'lake', location: `s3://${s3.bucket}/events`, s3: { endpoint: s3.endpoint, forcePathStyle: true } },
      },
      { logger: capturingLogger().logger },
    ).runOnce();
    assert.equal(stats.rowsLoaded, 3000);
    const local = join(tempDir(t, 'md-s3-mirror-'), 'lake');
    await mirror(s3, 'events', local);
    const c = await lakeCounts(local);
    assert.deepEqual({ rows: c.rows, positions: c.positions, ids: c.ids }, { rows: 3000, positions: 3000, ids: 3000 });
    const arrow = readWithPyarrow(local);
    assert.equal(arrow.rows.length, 3000);
    assert.deepEqual(new Set(arrow.rows.map((r) => r._event_id)), new Set(sent.map((s) => s.receipt.eventId)));
  });

  it('SIGKILL 5 times at random points, restarted each time: exactly N rows, N distinct ids, no partial or overlapping object', async (t) => {
    const s3 = await startS3Server({ dataDir: tempDir(t, 'md-s3-') });
    t.after(() => s3.stop());
    const local = join(tempDir(t, 'md-s3-mirror-'), 'lake');
    await killAndRestart(t, {
      location: () => `lake:s3://${s3.bucket}/kill`,
      local,
      sync: async () => void (await mirror(s3, 'kill', local)),
      env: s3.env,
      n: 12_000,
    });
  });

  it('the S3 server stopped mid-load and restarted: the loader waits with a log line saying what it waits for, loses and duplicates nothing', async (t) => {
    const s3 = await startS3Server({ dataDir: tempDir(t, 'md-s3-') });
    t.after(() => s3.stop());
    const topic = await freshTopic(t, { partitions: 3 });
    const schema = await lakeSchema();
    const N = 9000;
    await publishLake(schema, topic, Array.from({ length: N }, (_, i) => lakeEvent(i)));
    const { logger, lines } = capturingLogger();
    const loader = createLoader(
      {
        kafka: { brokers: brokers() }, schema, topics: [topic], group: `g-${topic}`, topicRenames: { 'lake.v1': topic }, dlqTopic: `${topic}.dlq`,
        batchRecords: 500, flushMs: 100, retryInitialMs: 200, retryMaxMs: 1000,
        warehouse: { type: 'lake', location: `s3://${s3.bucket}/outage`, s3: { endpoint: s3.endpoint } },
      },
      { logger },
    );
    // Stop the server once the first batches are committed; restart it after the loader has logged its wait.
    let stopped = false;
    const outage = (async () => {
      const deadline = Date.now() + 60_000;
      while (loader.stats().batches < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await s3.stop();
      stopped = true;
      while (!lines.some((l) => String(l.msg).startsWith('waiting for the warehouse')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1500));
      await s3.restart();
    })();
    const stats = await loader.runOnce();
    await outage;
    assert.ok(stopped, 'the server was stopped during the load');
    const waits = lines.filter((l) => String(l.msg).startsWith('waiting for the warehouse'));
    assert.ok(waits.length > 0, 'the loader said it waits');
    assert.match(String(waits[0]!.msg), /nothing is committed and no offset moves until it succeeds|retrying/);
    assert.match(String(waits[0]!.warehouse), /^lake:s3:\/\/lake\/outage$/, 'it names the lake, without credentials');
    assert.ok(lines.some((l) => l.msg === 'warehouse is back'), 'and says when the lake is back');
    assert.equal(stats.rowsLoaded, N);
    const local = join(tempDir(t, 'md-s3-mirror-'), 'lake');
    await mirror(s3, 'outage', local);
    const c = await lakeCounts(local);
    assert.deepEqual({ rows: c.rows, positions: c.positions, ids: c.ids }, { rows: N, positions: N, ids: N });
  });

  it('no AWS credentials: load exits non-zero at once with a line that says so (no endless retry)', async (t) => {
    const s3 = await startS3Server({ dataDir: tempDir(t, 'md-s3-') });
    t.after(() => s3.stop());
    const topic = await freshTopic(t, { partitions: 1 });
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_')) env[k] = v;
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/multidispatch.js'), 'load', '--topic', topic, '--warehouse', `lake:s3://${s3.bucket}/nocreds`, '--s3-endpoint', s3.endpoint, '--once', '--proto', 'proto'], {
      encoding: 'utf8', timeout: 60_000, env: { ...env, KAFKA_BROKERS: brokers().join(','), HOME: tempDir(t, 'md-home-'), AWS_EC2_METADATA_DISABLED: 'true' },
    });
    assert.notEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, /no AWS credentials found/);
    assert.doesNotMatch(r.stderr, /waiting for the warehouse/);
  });
});
